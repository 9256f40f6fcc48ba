// Killing an engine by the pid a status reports. A missing pid must fail the test, never reach process.kill:
// pid 0 (or a negative one) signals a whole process group, the test runner's own included.
export function killEngine(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (!Number.isInteger(pid) || (pid as number) <= 0) throw new Error(`no engine pid to signal (got ${String(pid)})`);
  process.kill(pid as number, signal);
}
