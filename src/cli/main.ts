// Every command's module is imported when it runs: `--help` or `workflows check` need not load the hub.

const USAGE = `usage: switchboard <command>
  start                 everything in one process (HTTP, channels, workers)
  worker                queue workers only (scale out: run many)
  gateway               HTTP + channel connections only
  config check [file]   validate config/hub.yaml (or SWITCHBOARD_CONFIG) and its knowledge files
  config schema         regenerate config/schema/hub.schema.json
  kb import --csv F [--answers-csv F] [--locale en] [--out F] [--force]
                        turn a text,category CSV (an FAQ or intent set) into a knowledge file
  kb pending [--approve ID | --reject ID] [--by NAME]
                        answers agents saved from desk cases: list, approve into learned.yaml, reject
  token create NAME --role ROLE [--role ROLE]   a new API token (admin, agent, events), shown once
  pii rotate [--batch N] | pii status
                        re-encrypt stored PII under the first key of SWITCHBOARD_PII_KEYS
  email inspect FILE.eml  how the email channel reads a mail: text, thread, attachments, answered or not
  workflows check       validate config/workflows/*.yaml (file:line: field: problem)
  workflows dry-run FILE --event EVENT.json [--now ISO]
                        the timeline a workflow would follow for that event, sending nothing
  events import FILE.csv --type TYPE [--map col=field ...] [--url URL] [--dry-run]
                        POST a CSV's rows as events to a running hub (SWITCHBOARD_TOKEN)
  eval --kb-csv F --test-csv F [--oos-csv F] [--locale en] [--llm] [--sweep]
                        measure the knowledge bot`;

async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  switch (cmd) {
    case 'start':
    case 'worker':
    case 'gateway':
      return (await import('./run.js')).runHub(cmd);
    case 'config':
      if (sub === 'check') return (await import('./config-cmd.js')).configCheck(rest[0]);
      if (sub === 'schema') return (await import('./config-cmd.js')).writeConfigSchema();
      break;
    case 'kb': {
      const { kbCommand } = await import('./kb-cmd.js');
      return kbCommand(argv.slice(1));
    }
    case 'token': return (await import('./token-cmd.js')).tokenCommand(argv.slice(1));
    case 'pii': return (await import('./pii-cmd.js')).piiCommand(argv.slice(1));
    case 'email': return (await import('./email-inspect.js')).emailCommand(argv.slice(1));
    case 'workflows': return (await import('./workflows.js')).workflowsCommand(argv.slice(1));
    case 'events': return (await import('./events-import.js')).eventsCommand(argv.slice(1));
    case 'eval': {
      const { evalCommand } = await import('./eval.js');
      return evalCommand(argv.slice(1));
    }
    case undefined:
    case 'help':
    case '--help':
      console.log(USAGE);
      return 0;
  }
  console.error(`unknown command: ${argv.join(' ')}\n${USAGE}`);
  return 2;
}

const code = await main(process.argv.slice(2));
if (code !== 0 || !['start', 'worker', 'gateway'].includes(process.argv[2] ?? '')) process.exit(code);
