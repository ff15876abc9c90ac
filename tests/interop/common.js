'use strict';
// Shared options for the ali-ons scripts: a direct name-server address (no
// HTTP address lookup), a logger that stays quiet unless TERN_INTEROP_DEBUG
// is set, and small helpers.

const debugOn = !!process.env.TERN_INTEROP_DEBUG;

function log(level, args) {
  if (debugOn || level === 'error') {
    process.stderr.write(`[ali-ons ${level}] ${args.map(a => (a instanceof Error ? a.stack : String(a))).join(' ')}\n`);
  }
}

const logger = {
  info: (...a) => debugOn && log('info', a),
  warn: (...a) => log('warn', a),
  error: (...a) => log('error', a),
  debug: (...a) => debugOn && log('debug', a),
};

// ali-ons asserts an httpclient even when nameSrv is given; with nameSrv set
// it never calls it (RemotingClient.updateNameServerAddressList).
const httpclient = {
  async request() {
    throw new Error('interop: HTTP name-server lookup must not happen (nameSrv is set)');
  },
};

// ACL credentials from the environment (TERN_INTEROP_AK / TERN_INTEROP_SK):
// ali-ons then signs every request (AccessKey, OnsChannel, Signature).
function credentials() {
  const ak = process.env.TERN_INTEROP_AK;
  return ak ? { accessKey: ak, secretKey: process.env.TERN_INTEROP_SK || '' } : {};
}

function clientOptions(nameSrv, extra) {
  return Object.assign(credentials(), {
    nameSrv,
    httpclient,
    logger,
    // Loopback: the client id is ip@pid; keep it on 127.0.0.1.
    clientIP: '127.0.0.1',
    // Faster than the defaults so a test is not waiting on timers.
    rebalanceInterval: 2000,
    persistConsumerOffsetInterval: 1000,
  }, extra || {});
}

function args(names) {
  const argv = process.argv.slice(2);
  if (argv.length < names.length) {
    process.stderr.write(`usage: node ${require('path').basename(process.argv[1])} ${names.join(' ')}\n`);
    process.exit(2);
  }
  const out = {};
  names.forEach((n, i) => { out[n] = argv[i]; });
  return out;
}

function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}

module.exports = { logger, httpclient, clientOptions, args, sleep, debugOn };
