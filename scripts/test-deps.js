// Before the tests: make sure the real components they drive are installed. As root (CI, these
// machines) missing Debian packages are installed; otherwise the exact command is printed.
import { execFileSync, spawnSync } from 'node:child_process';

const needs = [
  { command: 'docker-registry', pkg: 'docker-registry' },
  { command: 'skopeo', pkg: 'skopeo' },
  { command: 'htpasswd', pkg: 'apache2-utils' },
  { command: 'openssl', pkg: 'openssl' },
  { command: 'git', pkg: 'git' },
  { command: 'zstd', pkg: 'zstd' },
  { command: 'umoci', pkg: 'umoci' },
  { command: 'dockerd', pkg: 'docker.io', noRecommends: true },
  { command: 'containerd', pkg: 'containerd', noRecommends: true },
  { command: 'docker', pkg: 'docker.io', noRecommends: true },
  { command: 'podman', pkg: 'podman', noRecommends: true },
  { command: 'ctr', pkg: 'containerd', noRecommends: true },
];

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const missing = needs.filter((n) => !has(n.command));
if (missing.length === 0) {
  console.log('test dependencies: all present');
  process.exit(0);
}

const plain = [...new Set(missing.filter((m) => !m.noRecommends).map((m) => m.pkg))];
const bare = [...new Set(missing.filter((m) => m.noRecommends).map((m) => m.pkg))];
const commands = [
  'apt-get update',
  ...(plain.length ? [`apt-get install -y ${plain.join(' ')}`] : []),
  ...(bare.length ? [`apt-get install -y --no-install-recommends ${bare.join(' ')}`] : []),
];

if (process.getuid?.() !== 0) {
  console.error(`The tests need: ${missing.map((m) => m.command).join(', ')}. Install them with:`);
  for (const c of commands) console.error(`  sudo ${c}`);
  process.exit(1);
}

console.log(`test dependencies: installing ${[...plain, ...bare].join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
for (const c of commands) execFileSync('sh', ['-c', c], { stdio: ['ignore', 'ignore', 'inherit'], env });
const still = needs.filter((n) => !has(n.command));
if (still.length) {
  console.error(`still missing after install: ${still.map((m) => m.command).join(', ')}`);
  process.exit(1);
}
