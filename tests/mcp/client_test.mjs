// Drives `pyro mcp serve` with the official MCP TypeScript SDK client, over
// stdio or Streamable HTTP:
//
//   node client_test.mjs stdio|http [--update-golden]
//
// Besides the protocol, it holds the server to its limits on a hostile
// client: tool arguments cannot choose the backend, host paths stay inside
// the roots (the client's `roots/list`, or the operator's --host-root), and
// over HTTP every request needs the token the server made up.
//
// Needs PYRO_BIN (the pyro binary) and PYRO_MCP_SDK_DIR (where the SDK is
// installed: scripts/setup.d/30-mcp-client.sh). Exits non-zero on the first
// failed check, printing what differed.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const transportKind = process.argv[2];
const updateGolden = process.argv.includes('--update-golden');
const pyro = process.env.PYRO_BIN;
const sdkRoot = path.join(process.env.PYRO_MCP_SDK_DIR,
                          'node_modules/@modelcontextprotocol/sdk/dist/esm');
const load = (p) => import(pathToFileURL(path.join(sdkRoot, p)).href);
const { Client } = await load('client/index.js');
const { StdioClientTransport } = await load('client/stdio.js');
const { StreamableHTTPClientTransport } = await load('client/streamableHttp.js');
const { CallToolResultSchema, ListRootsRequestSchema } = await load('types.js');

// A private PYRO_HOME and an environment cache holding the offline busybox
// environment, as the C++ end-to-end tests build it.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pyro-mcp-'));
const home = path.join(scratch, 'home');
const cache = path.join(scratch, 'cache');
const rootfs = path.join(cache, 'busybox', 'rootfs');
for (const d of ['bin', 'workspace', 'tmp', 'etc', 'root', 'proc', 'sys', 'dev', 'run'])
  fs.mkdirSync(path.join(rootfs, d), { recursive: true });
fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
for (const name of execFileSync('/bin/busybox', ['--list']).toString().split('\n'))
  if (name && name !== 'busybox') fs.symlinkSync('busybox', path.join(rootfs, 'bin', name));
fs.writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
fs.writeFileSync(path.join(cache, 'busybox', 'install.json'), '{"complete": true}');
const env = { ...process.env, PYRO_HOME: home, PYRO_ENVIRONMENT_CACHE_DIR: cache, PYRO_BACKEND: '' };

const servers = [];
// Below the kernel's ephemeral range (32768 and up), which outgoing
// connections may hold.
let nextPort = 20000 + (process.pid % 10000);

async function waitForPort(port) {
  for (let i = 0; i < 200; ++i) {
    try {
      await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'GET' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`the HTTP server on ${port} never came up`);
}

// The token an HTTP server on `port` made up (no PYRO_MCP_TOKEN is set).
function tokenOf(port) {
  return fs.readFileSync(path.join(home, 'mcp', `http-${port}.token`), 'utf8').trim();
}

// A connected client on `profile`, over the transport under test. With
// `roots` (an object whose `list` holds directories), the client declares
// the roots capability and answers roots/list from it; `serverArgs` go to
// `pyro mcp serve`.
async function connect(profile, { roots = null, serverArgs = [] } = {}) {
  const client = new Client({ name: 'pyro-mcp-test', version: '1.0.0' },
                            roots ? { capabilities: { roots: { listChanged: true } } } : {});
  if (roots)
    client.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: roots.list.map((dir) => ({ uri: pathToFileURL(dir).href, name: path.basename(dir) })),
    }));
  const args = ['mcp', 'serve', '--profile', profile, ...serverArgs];
  if (transportKind === 'stdio') {
    const transport = new StdioClientTransport({ command: pyro, args, env, stderr: 'inherit' });
    await client.connect(transport);
    return { client, port: null };
  }
  const port = nextPort++;
  const server = spawn(pyro, [...args, '--transport', 'http', '--port', String(port)],
                       { env, stdio: ['ignore', 'inherit', 'inherit'] });
  servers.push(server);
  await waitForPort(port);
  const requestInit = { headers: { authorization: `Bearer ${tokenOf(port)}` } };
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), { requestInit }));
  return { client, port };
}

// A tool call that must be refused as a result (isError) matching `pattern`.
async function refused(client, name, args, pattern) {
  const result = await client.callTool({ name, arguments: args });
  assert.equal(result.isError, true, `${name} was not refused: ${JSON.stringify(result.structuredContent)}`);
  assert.match(result.content[0].text, pattern);
  return result;
}

async function call(client, name, args, options = {}) {
  const result = await client.callTool({ name, arguments: args }, CallToolResultSchema, options);
  if (result.isError)
    throw new Error(`${name} failed: ${result.content[0].text}`);
  return result.structuredContent;
}

async function checkToolLists() {
  for (const profile of ['vm-run', 'workspace-core', 'workspace-full']) {
    const { client } = await connect(profile);
    assert.equal(client.getServerVersion().name, 'pyro');
    const { tools } = await client.listTools();
    const golden = path.join(here, 'golden', `tools-${profile}.json`);
    if (updateGolden)
      fs.writeFileSync(golden, JSON.stringify(tools, null, 2) + '\n');
    assert.deepEqual(tools, JSON.parse(fs.readFileSync(golden, 'utf8')),
                     `tools/list of ${profile} differs from ${golden}`);
    for (const tool of tools) {
      assert.equal(tool.inputSchema.additionalProperties, false, tool.name);
      for (const [key, prop] of Object.entries(tool.inputSchema.properties ?? {}))
        assert.ok(prop.description, `${tool.name}.${key} has no description`);
    }
    if (profile === 'vm-run')
      assert.deepEqual(tools.map((t) => t.name), ['vm_run']);
    for (const tool of tools)
      for (const operatorOnly of ['backend', 'allow_host_compat'])
        assert.ok(!(operatorOnly in (tool.inputSchema.properties ?? {})), `${profile} ${tool.name} takes ${operatorOnly}`);
    if (profile === 'workspace-core') {
      const names = tools.map((t) => t.name);
      for (const hidden of ['shell_open', 'service_start', 'snapshot_create', 'workspace_disk_list'])
        assert.ok(!names.includes(hidden), `${hidden} is in workspace-core`);
      const create = tools.find((t) => t.name === 'workspace_create');
      for (const narrowed of ['secrets', 'network_policy'])
        assert.ok(!(narrowed in create.inputSchema.properties), `workspace-core create has ${narrowed}`);
    }
    await client.close();
  }
}

async function checkWorkspaceFlow() {
  const exports = path.join(scratch, 'exports');
  const later = path.join(scratch, 'later');
  const outside = path.join(scratch, 'outside');
  for (const d of [exports, later, outside])
    fs.mkdirSync(d);
  const roots = { list: [exports] };
  const { client } = await connect('workspace-full', { roots });
  const progress = [];
  const created = await call(client, 'workspace_create', { environment: 'busybox', name: 'mcp-flow' },
                             { onprogress: (p) => progress.push(p.message) });
  const id = created.workspace_id;
  assert.equal(created.backend, 'sandbox');
  assert.ok(progress.some((m) => m && m.includes('phase=ready')), `no progress: ${progress}`);
  await call(client, 'workspace_file_write', { workspace_id: id, path: 'notes.txt', text: 'hello\n' });
  const ran = await call(client, 'workspace_exec', { workspace_id: id, command: 'cat notes.txt; echo more >> notes.txt' });
  assert.equal(ran.stdout, 'hello\n');
  assert.equal(ran.exit_code, 0);
  const diff = await call(client, 'workspace_diff', { workspace_id: id });
  assert.equal(diff.changed, true);
  assert.ok(diff.patch.includes('+more'), diff.patch);
  const out = path.join(exports, 'exported-notes.txt');
  const exported = await call(client, 'workspace_export', { workspace_id: id, path: 'notes.txt', output_path: out });
  assert.equal(exported.artifact_type, 'file');
  assert.equal(fs.readFileSync(out, 'utf8'), 'hello\nmore\n');
  // Host paths stay inside the roots the client listed: not beside them,
  // not through a symlink inside them, not over an existing host file.
  const roots_refusal = /outside the host roots.*--host-root/s;
  await refused(client, 'workspace_export', { workspace_id: id, path: 'notes.txt', output_path: path.join(outside, 'x.txt') },
                roots_refusal);
  assert.ok(!fs.existsSync(path.join(outside, 'x.txt')));
  fs.symlinkSync(outside, path.join(exports, 'link'));
  await refused(client, 'workspace_export', { workspace_id: id, path: 'notes.txt', output_path: path.join(exports, 'link', 'y.txt') },
                roots_refusal);
  assert.ok(!fs.existsSync(path.join(outside, 'y.txt')));
  const victim = path.join(outside, 'victim.txt');
  fs.writeFileSync(victim, 'keep\n');
  await refused(client, 'workspace_export', { workspace_id: id, path: 'notes.txt', output_path: victim, overwrite: true },
                roots_refusal);
  assert.equal(fs.readFileSync(victim, 'utf8'), 'keep\n');
  await refused(client, 'workspace_sync_push', { workspace_id: id, source_path: outside }, roots_refusal);
  await refused(client, 'workspace_create', { environment: 'busybox', secrets: [{ name: 'S', file_path: '/etc/shadow' }] },
                roots_refusal);
  // The client's new list counts once it says the list changed.
  await refused(client, 'workspace_export', { workspace_id: id, path: 'notes.txt', output_path: path.join(later, 'n.txt') },
                roots_refusal);
  roots.list = [exports, later];
  await client.sendRootsListChanged();
  await call(client, 'workspace_export', { workspace_id: id, path: 'notes.txt', output_path: path.join(later, 'n.txt') });
  assert.equal(fs.readFileSync(path.join(later, 'n.txt'), 'utf8'), 'hello\nmore\n');
  await call(client, 'workspace_reset', { workspace_id: id });
  const after = await call(client, 'workspace_diff', { workspace_id: id });
  assert.equal(after.changed, false);
  // A tool failure is a result with isError, not a protocol error.
  const missing = await client.callTool({ name: 'workspace_status', arguments: { workspace_id: 'ws-does-not-exist' } });
  assert.equal(missing.isError, true);
  assert.match(missing.content[0].text, /not_found/);
  // Unknown tools and wrong argument types are protocol errors.
  await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), /Unknown tool/);
  await assert.rejects(client.callTool({ name: 'workspace_exec', arguments: { workspace_id: id, command: 42 } }),
                       /must be a string/);
  // Cancelling a slow call frees the client at once, ends the command in
  // the sandbox, and the server serves on.
  const controller = new AbortController();
  const slow = call(client, 'workspace_exec', { workspace_id: id, command: 'sleep 2; echo late > late.txt' },
                    { signal: controller.signal });
  setTimeout(() => controller.abort('test'), 300);
  const began = Date.now();
  await assert.rejects(slow);
  assert.ok(Date.now() - began < 3000, 'the cancelled call did not return at once');
  const pingBegan = Date.now();
  await client.ping();
  assert.ok(Date.now() - pingBegan < 1000, 'ping was held up by the cancelled call');
  await new Promise((r) => setTimeout(r, 2500));
  const late = await call(client, 'workspace_exec', { workspace_id: id, command: 'test -e late.txt && echo ran || echo killed' });
  assert.equal(late.stdout, 'killed\n', 'the cancelled command ran to its end');
  const deleted = await call(client, 'workspace_delete', { workspace_id: id });
  assert.equal(deleted.deleted, true);
  await client.close();
}

// The backend and host-compat are the operator's: no profile takes them
// from a tool call, and the refusal says nothing of how to get them.
async function checkOperatorDecides() {
  for (const [profile, tool] of [['vm-run', 'vm_run'], ['workspace-core', 'workspace_create'],
                                 ['workspace-full', 'workspace_create'], ['workspace-full', 'vm_create']]) {
    const { client } = await connect(profile);
    for (const [key, value] of [['backend', 'host'], ['allow_host_compat', true]]) {
      const args = { environment: 'busybox', command: 'id', [key]: value };
      if (tool !== 'vm_run')
        delete args.command;
      await assert.rejects(client.callTool({ name: tool, arguments: args }),
                           (e) => e.code === -32602 && e.message.includes(`unknown argument '${key}'`)
                                  && !/allow.host.compat/.test(e.message.replace(`'${key}'`, '')),
                           `${profile} ${tool} took ${key}`);
    }
    await client.close();
  }
}

// --host-root is the operator's and overrides what the client lists.
async function checkHostRoot() {
  const granted = path.join(scratch, 'granted');
  const listed = path.join(scratch, 'listed');
  fs.mkdirSync(path.join(granted, 'seed'), { recursive: true });
  fs.mkdirSync(listed);
  fs.writeFileSync(path.join(granted, 'seed', 'hello.txt'), 'from the operator\n');
  const { client } = await connect('workspace-core', { roots: { list: [listed] }, serverArgs: ['--host-root', granted] });
  await refused(client, 'workspace_create', { environment: 'busybox', seed_path: listed },
                new RegExp(`outside the host roots.*${granted}.*--host-root`, 's'));
  const created = await call(client, 'workspace_create', { environment: 'busybox', seed_path: path.join(granted, 'seed') });
  const read = await call(client, 'workspace_file_read', { workspace_id: created.workspace_id, path: 'hello.txt' });
  assert.equal(read.content, 'from the operator\n');
  await call(client, 'workspace_delete', { workspace_id: created.workspace_id });
  await client.close();
}

// Raw traffic the SDK would never send: each gets its own error and the
// server keeps serving.
async function checkMalformedHttp() {
  const { client, port } = await connect('workspace-core');
  await client.close();
  const url = `http://127.0.0.1:${port}/mcp`;
  // The token the server made up: in a file only its user can read, and
  // required on every request.
  const tokenFile = path.join(home, 'mcp', `http-${port}.token`);
  assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600);
  const initBody = JSON.stringify({
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });
  const bare = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  let r = await fetch(url, { method: 'POST', headers: bare, body: initBody });
  assert.equal(r.status, 401, 'initialize without the token');
  assert.equal(r.headers.get('mcp-session-id'), null);
  r = await fetch(url, { method: 'POST', headers: { ...bare, authorization: `Bearer ${tokenOf(port)}x` }, body: initBody });
  assert.equal(r.status, 401, 'initialize with a wrong token');
  const headers = { ...bare, authorization: `Bearer ${tokenOf(port)}` };
  const init = await fetch(url, { method: 'POST', headers, body: initBody });
  assert.equal(init.status, 200);
  assert.equal((await init.json()).result.protocolVersion, '2025-03-26');
  const session = init.headers.get('mcp-session-id');
  assert.ok(session);
  // The reply as JSON, whether it came plain or as an SSE stream.
  const reply = async (r) => {
    const text = await r.text();
    if (!(r.headers.get('content-type') ?? '').startsWith('text/event-stream'))
      return JSON.parse(text);
    const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
    return data.find((m) => !('method' in m));
  };
  const post = (body, extra = {}) => fetch(url, { method: 'POST', headers: { ...headers, 'mcp-session-id': session, ...extra }, body });
  r = await post('{not json');
  assert.equal(r.status, 400);
  assert.equal((await reply(r)).error.code, -32700);
  r = await post(JSON.stringify({ jsonrpc: '2.0', id: null, method: 'ping' }));
  assert.equal((await reply(r)).error.code, -32600);
  r = await post(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'no/such' }));
  assert.equal((await reply(r)).error.code, -32601);
  r = await post(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'workspace_list', arguments: { bogus: 1 } } }));
  assert.equal((await reply(r)).error.code, -32602);
  r = await post('x'.repeat(5 * 1024 * 1024));
  assert.equal(r.status, 413);
  r = await post(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'ping' }), { origin: 'http://evil.example' });
  assert.equal(r.status, 403);
  r = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ping' }) });
  assert.equal(r.status, 400, 'a request without a session id');
  r = await post(JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'ping' }), { 'mcp-session-id': 'nope' });
  assert.equal(r.status, 404);
  r = await post(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'ping' }));
  assert.deepEqual(await reply(r), { jsonrpc: '2.0', id: 7, result: {} });
  // This raw client lists no roots, and over HTTP there are none by
  // default: a tool call naming a host path is refused.
  r = await post(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call',
                                  params: { name: 'workspace_create', arguments: { environment: 'busybox', seed_path: scratch } } }),
                 { accept: 'application/json' });
  const noRoots = await reply(r);
  assert.equal(noRoots.result.isError, true);
  assert.match(noRoots.result.content[0].text, /no host path/);
  r = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': session, authorization: headers.authorization } });
  assert.equal(r.status, 200);
  r = await post(JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'ping' }));
  assert.equal(r.status, 404, 'a deleted session');
}

async function checkMalformedStdio() {
  const server = spawn(pyro, ['mcp', 'serve'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  let buffered = '';
  server.stdout.on('data', (d) => {
    buffered += d;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buffered.slice(0, nl)));
      buffered = buffered.slice(nl + 1);
    }
  });
  const send = (text) => server.stdin.write(text + '\n');
  send('{not json');
  send(JSON.stringify({ jsonrpc: '2.0', id: null, method: 'ping' }));
  send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'no/such' }));
  send(JSON.stringify({ jsonrpc: '1.0', id: 2, method: 'ping' }));
  send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'initialize', params: { protocolVersion: '1999-01-01', capabilities: {}, clientInfo: { name: 'x', version: '0' } } }));
  send(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'logging/setLevel', params: { level: 'loud' } }));
  send(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ping' }));
  server.stdin.end();
  await new Promise((r) => server.on('close', r));
  const byId = (id) => lines.find((l) => l.id === id);
  assert.equal(lines.filter((l) => l.id === null).map((l) => l.error.code).sort().join(','), '-32600,-32700');
  assert.equal(byId(1).error.code, -32601);
  assert.equal(byId(2).error.code, -32600);
  assert.equal(byId(3).result.protocolVersion, '2025-11-25');
  assert.equal(byId(4).error.code, -32602);
  assert.deepEqual(byId(5).result, {});
}

try {
  await checkToolLists();
  await checkOperatorDecides();
  await checkWorkspaceFlow();
  await checkHostRoot();
  if (transportKind === 'http')
    await checkMalformedHttp();
  else
    await checkMalformedStdio();
  console.log(`mcp client test (${transportKind}): all checks passed`);
} finally {
  for (const s of servers) s.kill('SIGTERM');
  fs.rmSync(scratch, { recursive: true, force: true });
}
