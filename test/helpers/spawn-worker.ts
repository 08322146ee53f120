import { spawn, type ChildProcess } from 'node:child_process';

/** Starts test/helpers/worker-proc.ts (a hub in role `worker`); resolves once it prints "ready". */
export function startWorkerProcess(configJson: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/worker-proc.ts'], {
    env: { ...process.env, SB_TEST_CONFIG: configJson, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
}
