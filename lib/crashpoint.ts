/**
 * Fault injection for the resumability tests: with UPM_CRASH_AT=<point> the process dies at that point, as it
 * would under kill -9, so a test can show that the next operator finishes the job without repeating a step.
 */
export function crashPoint(point: string): void {
  if (process.env.UPM_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}
