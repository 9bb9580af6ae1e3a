// Conventional Commits, checked by .ci/run on every commit after the one that added this file.
export default { extends: ['@commitlint/config-conventional'] };
