import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * The Lua scripts behind the atomic operations. Values live either as a string holding JSON
 * (numbers, strings, arrays, `null`, the empty object) or as a hash whose fields hold the
 * JSON of each property of a non-empty object, so `merge` is a plain `HSET`.
 */

/** `get`: the value's kind and raw content, read in one atomic step. */
const GET = `
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'string' then return {'s', redis.call('GET', KEYS[1])} end
if t == 'hash' then return {'h', redis.call('HGETALL', KEYS[1])} end
return false
`;

/** Write the field/value pairs ARGV[from..] into hash KEYS[1] in chunks (Lua's unpack is bounded). */
const HSET_ARGS = `
local function hset_args(from)
  local i = from
  while i <= #ARGV do
    local last = math.min(i + 199, #ARGV)
    redis.call('HSET', KEYS[1], unpack(ARGV, i, last))
    i = last + 1
  end
end
`;

/** `set` of a non-empty object. ARGV: ifAbsent ('1'|'0'), ttlMs, then field/JSON pairs. */
const SET_HASH = `${HSET_ARGS}
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[1])
hset_args(3)
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`;

/**
 * One merge into hash `key` of the field/JSON pairs ARGV[from..last] (none when last < from). A value
 * that is not a (non-empty) object, or an empty-object string, is replaced by the patch. Without a TTL
 * (ttl 0) the key keeps its current expiry.
 */
const MERGE_ONE = `
local function merge_one(key, ttl, from, last)
  local t = redis.call('TYPE', key).ok
  local keep = redis.call('PTTL', key)
  if t ~= 'hash' then redis.call('DEL', key) end
  if last >= from then
    local i = from
    while i <= last do
      local stop = math.min(i + 199, last)
      redis.call('HSET', key, unpack(ARGV, i, stop))
      i = stop + 1
    end
  elseif t ~= 'hash' then
    redis.call('SET', key, '{}')
  end
  if ttl > 0 then
    redis.call('PEXPIRE', key, ttl)
  elseif t ~= 'hash' and keep > 0 then
    redis.call('PEXPIRE', key, keep)
  end
end
`;

/** \`merge\`. ARGV: ttlMs, then field/JSON pairs. */
const MERGE = `${MERGE_ONE}
merge_one(KEYS[1], tonumber(ARGV[1]), 2, #ARGV)
return 1
`;

/**
 * \`mergeMany\`: one merge per key of KEYS, in order. ARGV holds, per key: ttlMs, the number n of
 * field/JSON items that follow, then those n items. Not atomic: a merge that fails stops the script
 * with the earlier ones applied.
 */
const MERGE_MANY = `${MERGE_ONE}
local at = 1
for k = 1, #KEYS do
  local n = tonumber(ARGV[at + 1])
  merge_one(KEYS[k], tonumber(ARGV[at]), at + 2, at + 1 + n)
  at = at + 2 + n
end
return #KEYS
`;

/**
 * \`increment\`. ARGV: by (decimal string), ttlMs, integer ('1'|'0'). The TTL applies only when the
 * key is created; a key holding something other than a number restarts from 0 and keeps its expiry.
 * Returns the new value as a string so that large integers and floats cross intact.
 */
const INCREMENT = `
local by = ARGV[1]
local ttl = tonumber(ARGV[2])
local integer = ARGV[3] == '1'
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then
  if integer then redis.call('INCRBY', KEYS[1], by) else redis.call('INCRBYFLOAT', KEYS[1], by) end
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
  return redis.call('GET', KEYS[1])
end
local current = t == 'string' and redis.call('GET', KEYS[1]) or nil
if current == nil or tonumber(current) == nil then
  local keep = redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[1], '0')
  if keep > 0 then redis.call('PEXPIRE', KEYS[1], keep) end
  current = '0'
end
if integer and string.match(current, '^%-?%d+$') then
  redis.call('INCRBY', KEYS[1], by)
  return redis.call('GET', KEYS[1])
end
return redis.call('INCRBYFLOAT', KEYS[1], by)
`;

/** Redis server time in ms, inside a script. */
const NOW_MS = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * \`track\`: record key KEYS[1] (store-relative name ARGV[1]) in the key index KEYS[2] (a sorted set
 * read by lexical range) and, when it expires, its expiry in KEYS[3]; a key that is gone leaves both.
 */
const TRACK = `${NOW_MS}
local pttl = redis.call('PTTL', KEYS[1])
if pttl == -2 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if pttl > 0 then
  redis.call('ZADD', KEYS[3], now_ms() + pttl, ARGV[1])
else
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return 1
`;

/**
 * \`list\`: live keys of index KEYS[1] starting with ARGV[2] (store-relative), or false when the
 * index was never built (marker KEYS[3] absent). ARGV[1] is the Redis name of the store's keys
 * before the store-relative part. Expired entries (KEYS[2]) and entries whose key is gone are dropped.
 */
const LIST = `${NOW_MS}
if redis.call('EXISTS', KEYS[3]) == 0 then return false end
local base = ARGV[1]
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_ms(), 'LIMIT', 0, 1000)
for _, member in ipairs(expired) do
  if redis.call('EXISTS', base .. member) == 0 then redis.call('ZREM', KEYS[1], member) end
  redis.call('ZREM', KEYS[2], member)
end
local out = {}
local members = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. ARGV[2], '[' .. ARGV[2] .. '\\255')
for _, member in ipairs(members) do
  if redis.call('EXISTS', base .. member) == 1 then
    out[#out + 1] = member
  else
    redis.call('ZREM', KEYS[1], member)
    redis.call('ZREM', KEYS[2], member)
  end
end
return out
`;

/** A script run by SHA, loaded on first use (and again after a `SCRIPT FLUSH` or a failover). */
export class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Run the script on `client` with one key (or several) and `args`. */
  async run(
    client: Redis,
    key: string | readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const keys = typeof key === 'string' ? [key] : key;
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return client.eval(this.source, keys.length, ...keys, ...args);
      }
      throw error;
    }
  }
}

/** The store's scripts. */
export const scripts = {
  get: new LuaScript(GET),
  setHash: new LuaScript(SET_HASH),
  merge: new LuaScript(MERGE),
  mergeMany: new LuaScript(MERGE_MANY),
  increment: new LuaScript(INCREMENT),
  track: new LuaScript(TRACK),
  list: new LuaScript(LIST),
} as const;
