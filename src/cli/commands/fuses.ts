// `tokenfuse fuses list|show|reset|isolate|raise`: an operator's hand on the fuses,
// fleet-wide through the Redis ledger or on one process through its admin endpoint.
import { type Command, Option } from 'commander';
import type { Amounts } from '../../budgets/budget.js';
import type { ManualActionName } from '../../fuses/fuse-events.js';
import type { FuseSnapshot } from '../../fuses/fuse-snapshot.js';
import { CliError } from '../cli-error.js';
import { AdminTarget } from '../fuses/admin-target.js';
import { fuseDetail, fuseJson, fusesTable } from '../fuses/format.js';
import { RedisTarget } from '../fuses/redis-target.js';
import type { FusesTarget } from '../fuses/target.js';

interface TargetFlags {
  redis?: string;
  config?: string;
  admin?: string;
  token?: string;
  json?: boolean;
}

interface ActionFlags extends TargetFlags {
  by?: string;
  reason?: string;
  tokens?: string;
  usd?: string;
  requests?: string;
}

/** The flags every subcommand takes: where the fuses are, and the output format. */
function withTarget(cmd: Command): Command {
  return cmd
    .option('--redis <url>', 'the Redis ledger (wins over ledger.url of the config file)')
    .option(
      '--config <file>',
      'config file with the budgets and the ledger section (default: TOKENFUSE_CONFIG, else tokenfuse.config.yaml)',
    )
    .option('--admin <url>', "a running process's admin endpoint, e.g. http://127.0.0.1:9465")
    .addOption(
      new Option('--token <token>', 'the admin endpoint token').env('TOKENFUSE_ADMIN_TOKEN'),
    )
    .option('--json', 'print JSON instead of a table');
}

function withNote(cmd: Command): Command {
  return cmd
    .option('--by <who>', 'who does this (recorded in the event, the log and the journal)')
    .option('--reason <why>', 'why (recorded likewise)');
}

function openTarget(flags: TargetFlags): FusesTarget {
  if (flags.admin !== undefined) {
    if (flags.redis !== undefined)
      throw new CliError('--admin and --redis name two different places; pass one', 2);
    if (flags.token === undefined || flags.token === '')
      throw new CliError('--admin needs --token (or TOKENFUSE_ADMIN_TOKEN)', 2);
    return new AdminTarget(flags.admin, flags.token);
  }
  return new RedisTarget({ config: flags.config, redis: flags.redis });
}

async function withTargetDo<T>(flags: TargetFlags, fn: (t: FusesTarget) => Promise<T>): Promise<T> {
  const target = openTarget(flags);
  try {
    return await fn(target);
  } finally {
    await target.close();
  }
}

function out(text: string): void {
  process.stdout.write(text);
}

function amount(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.replace(/^\$/, ''));
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new CliError(`--${flag} ${JSON.stringify(value)} is not a positive number`, 2);
  return n;
}

async function act(name: string, action: ManualActionName, flags: ActionFlags): Promise<void> {
  let amounts: Partial<Amounts> | undefined;
  if (action === 'raise') {
    amounts = {};
    for (const u of ['tokens', 'usd', 'requests'] as const) {
      const a = amount(u, flags[u]);
      if (a !== undefined) amounts[u] = a;
    }
    if (Object.keys(amounts).length === 0)
      throw new CliError('raise needs an amount: --tokens N, --usd N or --requests N', 2);
  }
  const note = {
    ...(flags.by !== undefined ? { by: flags.by } : {}),
    ...(flags.reason !== undefined ? { reason: flags.reason } : {}),
  };
  const after: FuseSnapshot = await withTargetDo(flags, (t) => t.act(name, action, note, amounts));
  if (flags.json) {
    out(
      `${JSON.stringify({ action, ...note, ...(amounts ? { amounts } : {}), fuse: fuseJson(after) }, null, 2)}\n`,
    );
    return;
  }
  out(
    `${action} ${JSON.stringify(name)}: done; the fuse is now ${after.state}${after.isolated ? ' (isolated)' : ''}\n`,
  );
  out(fusesTable([after]));
}

/** Registers `fuses` and its subcommands on the program. */
export function registerFuses(program: Command): void {
  const fuses = program
    .command('fuses')
    .description(
      'see and change budget fuses: fleet-wide in the Redis ledger (--redis / --config), or in one process (--admin)',
    );

  withTarget(fuses.command('list'))
    .description("every budget's state: window, spent/limit, utilization, fuse state, reserved")
    .action(async (flags: TargetFlags) => {
      const list = await withTargetDo(flags, (t) => t.list());
      out(flags.json ? `${JSON.stringify(list.map(fuseJson), null, 2)}\n` : fusesTable(list));
    });

  withTarget(fuses.command('show').argument('<budget>', 'the budget name'))
    .description('one budget in full')
    .action(async (name: string, flags: TargetFlags) => {
      const f = await withTargetDo(flags, (t) => t.show(name));
      out(flags.json ? `${JSON.stringify(fuseJson(f), null, 2)}\n` : fuseDetail(f));
    });

  withNote(withTarget(fuses.command('reset').argument('<budget>', 'the budget name')))
    .description('close a fuse by hand (after an incident; also ends an isolation); spend is kept')
    .action((name: string, flags: ActionFlags) => act(name, 'reset', flags));

  withNote(withTarget(fuses.command('isolate').argument('<budget>', 'the budget name')))
    .description('open a fuse by hand: every call of the budget is blocked until it is reset')
    .action((name: string, flags: ActionFlags) => act(name, 'isolate', flags));

  withNote(withTarget(fuses.command('raise').argument('<budget>', 'the budget name')))
    .description("raise a budget's limits by an amount for the rest of its current window")
    .option('--tokens <n>', 'tokens to add to the token limit')
    .option('--usd <n>', 'dollars to add to the USD limit')
    .option('--requests <n>', 'requests to add to the request limit')
    .action((name: string, flags: ActionFlags) => act(name, 'raise', flags));
}
