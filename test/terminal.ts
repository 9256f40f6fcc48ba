// A terminal program driven as a person would: run under tmux on a private server socket (so runs never meet each
// other's or a user's sessions), keys sent with send-keys, the screen read with capture-pane.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { waitFor } from '../lib/wait.ts';

const run = promisify(execFile);

export interface TerminalOptions {
  /** The tmux server socket: a path in the test's own directory. */
  socket: string;
  env: Record<string, string>;
  cols?: number;
  rows?: number;
  /** The program's log, whose warnings and errors a failed wait shows beside the screen. */
  logFile?: string;
}

export class Terminal {
  private readonly socket: string;
  private readonly logFile: string | undefined;
  private constructor(socket: string, logFile?: string) { this.socket = socket; this.logFile = logFile; }

  /** Starts `argv` in a detached tmux session of the given size, with exactly `env` as its environment. */
  static async start(argv: string[], opts: TerminalOptions): Promise<Terminal> {
    const t = new Terminal(opts.socket, opts.logFile);
    // env -i: the program sees only what the test gives it (no KUBECONFIG, HOME or config of the machine's user).
    const envArgs = Object.entries(opts.env).map(([k, v]) => `${k}=${v}`);
    await t.tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'main', '-x', String(opts.cols ?? 200), '-y', String(opts.rows ?? 50),
      'env', '-i', ...envArgs, ...argv);
    // Keep the pane when the program exits, so its last screen can still be read.
    await t.tmux('set-option', '-t', 'main', 'remain-on-exit', 'on');
    return t;
  }

  private async tmux(...args: string[]): Promise<string> {
    const { stdout } = await run('tmux', ['-S', this.socket, ...args]);
    return stdout;
  }

  /** Types literal text (no key names), then optionally Enter. */
  async type(text: string, enter = true): Promise<void> {
    await this.tmux('send-keys', '-t', 'main', '-l', text);
    if (enter) await this.tmux('send-keys', '-t', 'main', 'Enter');
  }

  /** The visible screen as text. */
  screen(): Promise<string> {
    return this.tmux('capture-pane', '-p', '-t', 'main');
  }

  /** Waits until the screen satisfies `ok`; on timeout the error shows the last screen. */
  async waitForScreen(what: string, ok: (screen: string) => boolean, timeoutMs = 30_000): Promise<string> {
    let last = '';
    try {
      await waitFor(what, async () => ok((last = await this.screen())), { timeoutMs, intervalMs: 250 });
    } catch (err) {
      throw new Error(`${(err as Error).message}; the screen:\n${last}${this.logProblems()}`, { cause: err });
    }
    return last;
  }

  private logProblems(): string {
    if (!this.logFile || !existsSync(this.logFile)) return '';
    // eslint-disable-next-line no-control-regex
    const lines = readFileSync(this.logFile, 'utf8').replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => /\b(ERR|WRN|ERROR|WARN)\b/.test(l));
    return `\nits log (${this.logFile}), warnings and errors:\n${lines.slice(-30).join('\n')}`;
  }

  async stop(): Promise<void> {
    await this.tmux('kill-server').catch(() => undefined);
  }
}
