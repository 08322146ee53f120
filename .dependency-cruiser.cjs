/**
 * Import rules of the target layout (architecture note, "Import rules"), checked in CI by
 * `npm run check:imports`. Type-only imports count: a type from an adapter in core is still a
 * dependency on that adapter.
 *
 * Parser: swc (@swc/core), because dependency-cruiser's TypeScript support needs typescript < 7 and
 * we compile with typescript 7. Our `.js` specifiers resolve to the `.ts` files (dependency-cruiser
 * does that by itself); the `sanity` rule below fails if that ever stops working, so a broken
 * resolver cannot pass for a clean graph.
 */
const SRC = '^src/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'No import cycles anywhere in src (type-only imports included).',
      from: { path: SRC },
      to: { circular: true },
    },
    {
      name: 'core-imports-only-core',
      severity: 'error',
      comment: 'src/core is the domain: it imports only src/core and packages.',
      from: { path: '^src/core/' },
      to: { path: SRC, pathNot: '^src/core/' },
    },
    {
      name: 'adapter-imports-core-http-own-folder',
      severity: 'error',
      comment:
        'A channel folder imports only src/core, src/http, its own folder and src/adapters/define.ts or registry.ts.',
      from: { path: '^src/adapters/([^/]+)/' },
      to: {
        path: SRC,
        pathNot: ['^src/core/', '^src/http/', '^src/adapters/$1/', '^src/adapters/(define|registry)\\.ts$'],
      },
    },
    {
      name: 'adapters-registry-imports-core-http-adapters',
      severity: 'error',
      comment: 'src/adapters/define.ts and registry.ts import only src/core, src/http and src/adapters.',
      from: { path: '^src/adapters/[^/]+$' },
      to: { path: SRC, pathNot: ['^src/core/', '^src/http/', '^src/adapters/'] },
    },
    {
      name: 'config-is-a-leaf',
      severity: 'error',
      comment:
        'src/config imports only itself and packages, plus src/core/errors.ts (HubError, itself import-free). ' +
        'The hub assembles the full schema (src/hub/config-schema.ts).',
      from: { path: '^src/config/' },
      to: { path: SRC, pathNot: ['^src/config/', '^src/core/errors\\.ts$'] },
    },
    {
      name: 'knowledge-imports-only-core',
      severity: 'error',
      comment: 'src/knowledge (the knowledge bot) imports only src/core and itself.',
      from: { path: '^src/knowledge/' },
      to: { path: SRC, pathNot: ['^src/knowledge/', '^src/core/'] },
    },
    {
      name: 'api-imports-core-config-own-folder',
      severity: 'error',
      comment: 'src/api (tokens, routes, templates) imports only src/core, src/config and itself: the hub hands it its dependencies.',
      from: { path: '^src/api/' },
      to: { path: SRC, pathNot: ['^src/api/', '^src/core/', '^src/config/'] },
    },
    {
      name: 'webhooks-imports-core-config-own-folder',
      severity: 'error',
      comment: 'src/webhooks (a module: subscribers of conversation events) imports only src/core, src/config and itself.',
      from: { path: '^src/webhooks/' },
      to: { path: SRC, pathNot: ['^src/webhooks/', '^src/core/', '^src/config/'] },
    },
    {
      name: 'workflows-imports-core-config-api-own-folder',
      severity: 'error',
      comment:
        'src/workflows (definitions and engine) imports src/core, src/config, itself, the API it extends (src/api: token check, error answers) ' +
        'and the webhook signature (src/webhooks/payload.ts) it shares; never the hub, adapters or http.',
      from: { path: '^src/workflows/' },
      to: { path: SRC, pathNot: ['^src/workflows/', '^src/core/', '^src/config/', '^src/api/', '^src/webhooks/payload\\.ts$'] },
    },
    {
      name: 'console-imports-core-config-api-http-own-folder',
      severity: 'error',
      comment:
        'src/console (the web console: sign-in, the agent inbox) imports src/core, src/config, src/api (token check, error answers), ' +
        'src/http (the rate-limit key) and itself; never the hub, adapters or other modules. The hub hands it its dependencies.',
      from: { path: '^src/console/' },
      to: { path: SRC, pathNot: ['^src/console/', '^src/core/', '^src/config/', '^src/api/', '^src/http/'] },
    },
    {
      name: 'analytics-imports-core-config-knowledge-own-folder',
      severity: 'error',
      comment:
        'src/analytics (read models, KPIs, dashboard) imports src/core, src/config, src/knowledge (the tokenizer), itself, ' +
        'and the API token check (src/api/tokens.ts) for its default bearer guard; never the hub, adapters or http.',
      from: { path: '^src/analytics/' },
      to: { path: SRC, pathNot: ['^src/analytics/', '^src/core/', '^src/config/', '^src/knowledge/', '^src/api/tokens\\.ts$'] },
    },
    {
      name: 'no-unresolvable-imports',
      severity: 'error',
      comment: 'An import in src that resolves to nothing (a moved or deleted file).',
      from: { path: SRC },
      to: { couldNotResolve: true },
    },
  ],
  required: [
    {
      name: 'sanity-ts-resolution',
      severity: 'error',
      comment:
        'The checker itself works: src/hub/config-schema.ts must be seen importing src/config/schema.ts ' +
        '(swc parsed the TypeScript and "./x.js" resolved to x.ts). If this fails, @swc/core is missing or resolution broke.',
      module: { path: '^src/hub/config-schema\\.ts$' },
      to: { path: '^src/config/schema\\.ts$' },
    },
  ],
  options: {
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/(adapters/webchat|console|analytics)/public/' },
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6'],
    // Packages resolve through their `exports` (wechaty has only import/require conditions).
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
