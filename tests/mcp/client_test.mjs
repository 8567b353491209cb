// Drives `pyro mcp serve` with the official MCP TypeScript SDK client, over
// stdio or Streamable HTTP:
//
//   node client_test.mjs stdio|http [--update-golden]
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
const { CallToolResultSchema } = await load('types.js');

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

// A connected client on `profile`, over the transport under test.
async function connect(profile) {
  const client = new Client({ name: 'pyro-mcp-test', version: '1.0.0' });
  if (transportKind === 'stdio') {
    const transport = new StdioClientTransport({
      command: pyro, args: ['mcp', 'serve', '--profile', profile], env, stderr: 'inherit',
    });
    await client.connect(transport);
    return { client, port: null };
  }
  const port = nextPort++;
  const server = spawn(pyro, ['mcp', 'serve', '--profile', profile, '--transport', 'http',
                              '--port', String(port)], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  servers.push(server);
  await waitForPort(port);
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  return { client, port };
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
  const { client } = await connect('workspace-full');
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
  const out = path.join(scratch, 'exported-notes.txt');
  const exported = await call(client, 'workspace_export', { workspace_id: id, path: 'notes.txt', output_path: out });
  assert.equal(exported.artifact_type, 'file');
  assert.equal(fs.readFileSync(out, 'utf8'), 'hello\nmore\n');
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

// Raw traffic the SDK would never send: each gets its own error and the
// server keeps serving.
async function checkMalformedHttp() {
  const { client, port } = await connect('workspace-core');
  await client.close();
  const url = `http://127.0.0.1:${port}/mcp`;
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = await fetch(url, { method: 'POST', headers, body: JSON.stringify({
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } }) });
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
  let r = await post('{not json');
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
  r = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': session } });
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
  await checkWorkspaceFlow();
  if (transportKind === 'http')
    await checkMalformedHttp();
  else
    await checkMalformedStdio();
  console.log(`mcp client test (${transportKind}): all checks passed`);
} finally {
  for (const s of servers) s.kill('SIGTERM');
  fs.rmSync(scratch, { recursive: true, force: true });
}
