-- wrk script: POST /v1/leads with a lead of its own in every request (closed loop).
--
--   wrk -t2 -c64 -d60s -s loadtests/wrk/unique-leads.lua "$TRIAGE_URL" -- "$DEMO_API_KEY"
--
-- wrk is not part of the stack: install it once with `apt-get install wrk` (Debian 12).
--
-- The email holds a run token, the thread and a counter, so no two requests of a run (or of
-- two runs) merge into one lead; the rest of the body is a warm B2B lead, so that engagement
-- plans outreach for the ones that score hot, warm or nurture.
local counter = 0
local thread_no = 0
local token = tostring(os.time())

function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
end

function init(args)
  wrk.method = "POST"
  wrk.path = "/v1/leads"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. (args[1] or os.getenv("DEMO_API_KEY") or "")
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"email": "wrk-%s-%d-%d@initech.com", "name": "Load Test", "company": "Initech", ' ..
    '"title": "VP of Engineering", "company_size": 800, "industry": "software", "country": "US", ' ..
    '"source": "demo_request", "consent": {"email": true}}',
    token, tid, counter)
  return wrk.format(nil, nil, nil, body)
end

local statuses = {}
function response(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("requests: %d, errors: connect %d read %d write %d status %d timeout %d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("latency p%d: %.1f ms\n", p, latency:percentile(p) / 1000))
  end
end
