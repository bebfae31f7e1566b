#!/usr/bin/env node
// `npx tokenfuse <command>`: the operator's and finance's entry point. Each command
// lives in its own file under commands/ and registers itself on the program here;
// this file only wires them up and turns a failure into one line and an exit code.
import { Command, CommanderError } from 'commander';
import { PACKAGE_VERSION } from '../version.js';
import { exitCodeOf, messageOf } from './cli-error.js';
import { registerCheck } from './commands/check.js';
import { registerFakeServer } from './commands/fake-server.js';
import { registerFuses } from './commands/fuses.js';
import { registerPrices } from './commands/prices.js';
import { registerReport } from './commands/report.js';

/** The program with every command registered. */
function buildProgram(): Command {
  const program = new Command('tokenfuse')
    .description('LLM cost observability and budget fuses for Node.js: the command line')
    .version(PACKAGE_VERSION, '-v, --version', 'print the tokenfuse version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  // Commands register here, one line each (keep the list alphabetical).
  registerCheck(program);
  registerFakeServer(program);
  registerPrices(program);
  registerReport(program);
  registerFuses(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed the usage error (or the help / version text).
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`tokenfuse: ${messageOf(err)}\n`);
    process.exitCode = exitCodeOf(err);
  }
}

void main(process.argv);
