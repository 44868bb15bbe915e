-- wrk script: every request goes to the next tenant (token) in turn.
-- Environment: SQ_TOKENS (file of "name<TAB>token" lines), SQ_MODE
-- (select | update | mix | toc | big-update), SQ_VALUE_BYTES.
local tokens = {}
local counter = 0
local fixed = {}
local fixed_count = 0
local mode = os.getenv("SQ_MODE") or "select"
local value_bytes = tonumber(os.getenv("SQ_VALUE_BYTES") or "100")

-- Every update writes a new value: an update that changes nothing costs no sync.
local function value()
  local prefix = tostring(counter) .. "-"
  return prefix .. string.rep("v", value_bytes - #prefix)
end

function init(args)
  for line in io.lines(os.getenv("SQ_TOKENS")) do
    local token = line:match("\t(.+)$")
    if token then tokens[#tokens + 1] = token end
  end
  counter = math.random(1, #tokens)
  -- Reads do not change between rounds, so they are formatted once: building each request
  -- in Lua costs wrk more than the server spends answering it, and wrk's own queueing
  -- would then be what the latency figures measure.
  if mode == "select" or mode == "toc" then
    for i = 1, #tokens * 100 do
      fixed[i] = build(i)
    end
    fixed_count = #fixed
  end
end

function build(counter)
  local token = tokens[(counter % #tokens) + 1]
  local headers = { ["Authorization"] = "Bearer " .. token }
  -- Every tenant in turn, and a different scroll each round of tenants.
  local scroll = (math.floor(counter / #tokens) % 100) + 1
  local path
  if mode == "select" or (mode == "mix" and counter % 10 ~= 0) then
    path = "/api/v2/select?p=bench&c=1.1.1/1.1.1/1.1." .. scroll
  elseif mode == "toc" then
    path = "/api/v2/toc?p=toc"
  elseif mode == "big-update" then
    path = "/api/v2/update?p=big&c=1.1.1/1.1.1/5.1." .. scroll .. "&s=" .. value()
  elseif mode == "small-update" then
    path = "/api/v2/update?p=small&c=1.1.1/1.1.1/1.1." .. scroll .. "&s=" .. value()
  else
    path = "/api/v2/update?p=bench&c=1.1.1/1.1.1/1.1." .. scroll .. "&s=" .. value()
  end
  return wrk.format("GET", path, headers)
end

function request()
  counter = counter + 1
  if fixed_count > 0 then
    return fixed[(counter % fixed_count) + 1]
  end
  return build(counter)
end
