import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { newQuickJSWASMModuleFromVariant, newVariant, RELEASE_SYNC, type QuickJSWASMModule } from 'quickjs-emscripten';

/**
 * WebAssembly instances of QuickJS, each with a linear memory capped near one call's memory limit.
 *
 * Why not one shared instance with `runtime.setMemoryLimit` alone: in this Emscripten build QuickJS
 * cannot measure its allocations (`malloc_usable_size` is unavailable), so the runtime limit only
 * refuses a single allocation larger than the limit; a loop of small ones would grow the
 * process by gigabytes. A capped `WebAssembly.Memory` is a limit the engine itself enforces:
 * `malloc` fails past it and QuickJS throws "out of memory".
 *
 * The module is compiled once per thread (each sandbox worker compiles its own); instances (about
 * 1 ms each) are kept for reuse and each runs one call at a time, with a new runtime and context
 * per call. An instance that faulted (the
 * host's stack overflowing while QuickJS recursed, a trap) is dropped: its state may be
 * half-updated.
 */
const PAGE_BYTES = 64 * 1024;
/** The module's declared minimum memory (16 MiB): no instance can be smaller. */
const MIN_PAGES = 256;
/** Static data, the 5 MiB shadow stack and an empty runtime and context: measured about 5.3 MiB. */
const BASE_BYTES = 6 * 1024 * 1024;
/**
 * Growth within this much of the cap counts as having reached it (the last growth step that
 * fails can leave a megabyte or two unused).
 */
const EXHAUSTED_SLACK_BYTES = 4 * 1024 * 1024;
/** The smallest cap: room to grow past the initial 16 MiB, so that reaching the cap is visible. */
const MIN_CAP_PAGES = MIN_PAGES + (8 * 1024 * 1024) / PAGE_BYTES;
/**
 * Idle instances kept for reuse; each may hold memory up to its cap. A worker runs one call at a
 * time, so one is enough while the memory limit stays the same.
 */
const MAX_IDLE = 1;

/**
 * A compiled module as the variant takes it. Spelled through the library: the build's type
 * libraries (ES2023 and Node's) do not declare the `WebAssembly` namespace.
 */
type CompiledModule = NonNullable<NonNullable<Parameters<typeof newVariant>[1]>['wasmModule']>;

/** The global `WebAssembly` object: Node has it, but the project's type libraries do not declare it. */
interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
  compile(bytes: Uint8Array): Promise<CompiledModule>;
}
const wasm = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

let compiled: Promise<CompiledModule> | undefined;
const idle: Array<{ pages: number; module: QuickJSWASMModule }> = [];
let created = 0;

/** A QuickJS instance whose memory cannot grow much past `memoryBytes` of heap. */
export async function acquireQuickJSModule(memoryBytes: number): Promise<QuickJSWASMModule> {
  const pages = pagesFor(memoryBytes);
  const index = idle.findIndex((entry) => entry.pages === pages);
  if (index >= 0) return idle.splice(index, 1)[0]!.module;
  const wasmModule = await compileOnce();
  const memory = new wasm.Memory({ initial: MIN_PAGES, maximum: pages });
  const module = await newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmModule, wasmMemory: memory }));
  created += 1;
  return module;
}

/**
 * Returns an instance after a call. A faulted one is dropped, and so is one whose memory reached
 * its cap: that frees the memory, and an instance in the pool always has room left, which is how
 * a call tells that it ran out (see {@link instanceMemoryExhausted}).
 */
export function releaseQuickJSModule(module: QuickJSWASMModule, memoryBytes: number, healthy: boolean): void {
  if (!healthy || instanceMemoryExhausted(module, memoryBytes)) return;
  idle.push({ pages: pagesFor(memoryBytes), module });
  if (idle.length > MAX_IDLE) idle.shift();
}

/** Compiles the module ahead of the first call (a worker does this before it reports ready). */
export async function prepareQuickJS(): Promise<void> {
  await compileOnce();
}

/** How many instances this thread created (for tests: a faulted instance is not reused). */
export function quickJSInstancesCreated(): number {
  return created;
}

/**
 * Whether the instance's memory grew to (nearly) its cap. When QuickJS runs out of memory while
 * building the error itself it throws `null`; this tells that apart from a `throw null`.
 */
export function instanceMemoryExhausted(module: QuickJSWASMModule, memoryBytes: number): boolean {
  try {
    return module.getWasmMemory().buffer.byteLength + EXHAUSTED_SLACK_BYTES >= pagesFor(memoryBytes) * PAGE_BYTES;
  } catch {
    return true;
  }
}

function pagesFor(memoryBytes: number): number {
  return Math.max(MIN_CAP_PAGES, Math.ceil((memoryBytes + BASE_BYTES) / PAGE_BYTES));
}

function compileOnce(): Promise<CompiledModule> {
  compiled ??= (async () => {
    // The variant package is quickjs-emscripten's dependency: resolve it from there.
    const fromQuickJS = createRequire(createRequire(import.meta.url).resolve('quickjs-emscripten'));
    const bytes = await readFile(fromQuickJS.resolve('@jitl/quickjs-wasmfile-release-sync/wasm'));
    return wasm.compile(bytes);
  })().catch((error: unknown) => {
    // A failed load is retried by the next call rather than cached.
    compiled = undefined;
    throw error;
  });
  return compiled;
}
