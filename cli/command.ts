/**
 * The shape of one `cvcore <name>` command. Each command lives in cli/commands/<name>.ts and is listed in
 * cli/index.ts. `run` returns the process exit code; it rejects only on a bug (typed errors are printed by the CLI).
 */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(args: string[]): Promise<number>;
}
