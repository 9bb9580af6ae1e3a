import fs from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';

/**
 * The baselines of every run. `hello`: a bare Fastify hello-world. `sqlite-insert`: one SQLite
 * INSERT per request in WAL mode, the floor for anything that saves a row.
 */
const kind = process.env.BASELINE_KIND ?? 'hello';
const app = Fastify({ logger: false });

app.get('/health', async () => ({ status: 'ok' }));

if (kind === 'hello') {
  app.get('/', async () => ({ hello: 'world' }));
} else {
  const { default: Database } = await import('better-sqlite3');
  const dir = process.env.BASELINE_DIR ?? '.';
  fs.mkdirSync(dir, { recursive: true });
  const db = new Database(path.join(dir, 'baseline.sqlite'));
  // The pragmas Athena opens its own database with (src/db/database.ts), so the floor is a fair one.
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec('create table if not exists hits (id integer primary key, body text not null, created_at text not null)');
  const insert = db.prepare('insert into hits (body, created_at) values (?, ?)');
  app.post('/', async (request) => {
    const info = insert.run(JSON.stringify(request.body ?? {}), new Date().toISOString());
    return { id: Number(info.lastInsertRowid) };
  });
}

await app.listen({ port: Number(process.env.PORT ?? 3001), host: '127.0.0.1' });
