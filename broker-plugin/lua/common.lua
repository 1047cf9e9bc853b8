-- Shared by every script of store redis (docs/protocol.md section 11): the
-- key names, the clock, reply payloads and where replies go. lua/embed.cmake
-- puts this text in front of each script.
--
-- ARGV[1] key prefix with the hash tag ("cardex:{cx}:"), ARGV[2] this
-- broker's ID, ARGV[3] inbox length, ARGV[4] inbox lifetime (ms); the
-- script's own arguments follow. KEYS[1] is P.."secret": it names the one
-- slot every key of these scripts lies in (they all carry the tag {cx}).
--
-- A script returns a list of actions for the broker that called it:
--   {"p", to, payload}  publish payload on reply/<to>, here and now;
--   {"e", to, code, retry_after, message, ref, xid}  an error reply, sent
--     by that broker under its error budget ("" for what is absent).
-- IDs, refs, exchange IDs and commits were checked by the broker against
-- their character sets (no quote, no backslash), so they go into JSON as
-- they are, as the broker's own encoder writes them.
local P, ME = ARGV[1], ARGV[2]
local INBOX_MAX, INBOX_TTL = tonumber(ARGV[3]), tonumber(ARGV[4])
local WINDOW_MS, GRACE_MS = 60000, 10000
local out = {}

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Whole seconds from now until due, at least 1 when due is later.
local function secs(now, due)
  if due <= now then return 0 end
  return math.floor((due - now + 999) / 1000)
end

local function opt(k, v)
  if v == nil or v == false or v == '' then return '' end
  return ',"' .. k .. '":"' .. v .. '"'
end

local function j_offer(expires_in, ref)
  return '{"type":"offer","expires_in":' .. expires_in .. opt('ref', ref) .. '}'
end
local function j_match(xid, peer, expires_in, ref, commit)
  return '{"type":"match","exchange":"' .. xid .. '","peer":"' .. peer .. '","expires_in":' .. expires_in
    .. opt('ref', ref) .. opt('peer_commit', commit) .. '}'
end
local function j_attempt(left, ref)
  return '{"type":"attempt","attempts_left":' .. left .. opt('ref', ref) .. '}'
end
local function j_revoked(reason, ref)
  return '{"type":"revoked","reason":"' .. reason .. '"' .. opt('ref', ref) .. '}'
end
local function j_sent(xid, to)
  return '{"type":"sent","exchange":"' .. xid .. '","to":"' .. to .. '"}'
end
local function j_expired_offer(ref)
  return '{"type":"expired","offer":true' .. opt('ref', ref) .. '}'
end
local function j_expired_exchange(xid)
  return '{"type":"expired","exchange":"' .. xid .. '"}'
end

local function err(to, code, message, retry, ref, xid)
  out[#out + 1] = {'e', to, code, retry or 0, message or '', ref or '', xid or ''}
end

-- Moves the whole inbox of id into this broker's answer, oldest first.
local function drain(id)
  local ik = P .. 'in:' .. id
  local items = redis.call('LRANGE', ik, 0, -1)
  if #items > 0 then
    redis.call('DEL', ik)
    for i = 1, #items do out[#out + 1] = {'p', id, items[i]} end
  end
  return #items
end

-- A reply to the sender of the request, connected to this broker: after
-- whatever its inbox still holds, so that its replies keep their order.
local function here(to, payload)
  drain(to)
  out[#out + 1] = {'p', to, payload}
end

-- A reply to another terminal: here when it is connected to this broker;
-- on the channel of the broker it is connected to ("<id> <payload>"), when
-- that broker listens and nothing waits in the terminal's inbox (which
-- would have to go first); else into its inbox (bounded, with a lifetime),
-- with a word ("<id>") to that broker if it listens.
local function route(to, payload)
  local at = redis.call('GET', P .. 't:' .. to)
  if at == ME then
    here(to, payload)
    return
  end
  local ik = P .. 'in:' .. to
  local listening = false
  if at and redis.call('EXISTS', ik) == 0 then
    if redis.call('PUBLISH', P .. 'b:' .. at, to .. ' ' .. payload) > 0 then
      return
    end
  elseif at then
    listening = true
  end
  if redis.call('RPUSH', ik, payload) > INBOX_MAX then
    redis.call('LTRIM', ik, -INBOX_MAX, -1)
  end
  redis.call('PEXPIRE', ik, INBOX_TTL)
  if listening then
    redis.call('PUBLISH', P .. 'b:' .. at, to)
  end
end

-- Expires the offer of owner (its hash o: ref, due), as a tick would.
local function expire_offer(owner, ref)
  redis.call('DEL', P .. 'o:' .. owner)
  redis.call('ZREM', P .. 'do', owner)
  route(owner, j_expired_offer(ref))
end

local function expire_exchange(xid, a, b)
  redis.call('DEL', P .. 'x:' .. xid)
  redis.call('ZREM', P .. 'dx', xid)
  route(a, j_expired_exchange(xid))
  route(b, j_expired_exchange(xid))
end
