# pbx — one command to set up and run, one to test.
#   make run    install what is missing (PostgreSQL, Redis, Asterisk 22, SIPp), then run the daemon
#   make test   the same setup, then unit + integration + end-to-end tests
#   make check  type-check, lint, dependency rules and folder cycles
SHELL := /bin/bash
ENV_FILE ?= /etc/pbx/pbx.env
export PBX_ENV_FILE := $(ENV_FILE)
LOAD_ENV := set -a && . $(ENV_FILE) && set +a

.PHONY: run test check setup deps build migrate asterisk asterisk-stop test-unit test-integration test-e2e test-load soak bench bench-acd bench-queue bench-recording bench-erlang bench-pacing bench-reports bench-events bench-import bench-api bench-capacity clean

setup: ## machine setup: env file, PostgreSQL, Redis, Asterisk 22, SIPp (idempotent)
	@bash deploy/gen-env.sh $(ENV_FILE)
	@$(LOAD_ENV) && bash deploy/install.sh
	@# Settings that depend on where Asterisk lives (chrooted or not): each added to the env file once.
	@$(LOAD_ENV) && bash deploy/asterisk-instance.sh env | while IFS= read -r line; do \
	  grep -q "^$${line%%=*}=" $(ENV_FILE) || echo "$$line" >>$(ENV_FILE); done
	@# The site certificate deploy/install.sh made (HTTPS): added once; set PBX_TLS_CERT= (empty) for plain HTTP.
	@bash deploy/site-cert.sh env | while IFS= read -r line; do \
	  grep -q "^$${line%%=*}=" $(ENV_FILE) || echo "$$line" >>$(ENV_FILE); done
	@# Log rotation (daemon log file, Asterisk's logs, the unserved spool file): /etc/logrotate.d/pbx on a systemd host.
	@$(LOAD_ENV) && bash deploy/logrotate.sh install

# Not `npm ci`: with npm 11 and `omit-lockfile-registry-resolved` (set on these machines) the lock
# file npm itself writes lacks versions for other platforms' optional packages, and `npm ci` refuses
# it ("Missing: @rollup/rollup-android-arm64@ from lock file"). `npm install` still installs the
# locked versions.
node_modules: package.json package-lock.json
	npm install --no-audit --no-fund
	@touch node_modules

deps: node_modules

build: deps
	npx tsc -p tsconfig.build.json

migrate: build
	node dist/src/cli.js migrate

asterisk: setup ## render asterisk/ templates with the env file and start the site's Asterisk
	@$(LOAD_ENV) && bash deploy/asterisk-instance.sh start

asterisk-stop:
	@$(LOAD_ENV) && bash deploy/asterisk-instance.sh stop

run: setup build migrate asterisk
	@echo "[run] pbx daemon on :$$($(LOAD_ENV) && echo $$PBX_HTTP_PORT) (Ctrl-C stops it; Asterisk keeps running: make asterisk-stop)"
	exec node dist/src/cli.js serve

test: setup build test-unit test-integration test-e2e test-load

test-unit: deps
	npx vitest run --project unit

test-integration: deps
	npx vitest run --project integration

# Two e2e files at a time, each worker with a world of its own (database, Asterisk, daemon port;
# test/e2e/pick-world.ts): docs/benchmarks.md#test-suite-run-time. E2E_WORKERS=1: one at a time.
test-e2e: build
	PBX_E2E_WORKERS=$(or $(E2E_WORKERS),2) npx vitest run --project e2e --maxWorkers=$(or $(E2E_WORKERS),2)

# The short soak and the faults under load (test/load, issue #22): one world, one file at a time.
test-load: build
	PBX_E2E_WORKERS=1 npx vitest run --project load --maxWorkers=1 --passWithNoTests

# The soak alone (test/load/soak.test.ts, issue #22; `make test-load` runs it for 2 minutes).
soak: setup build ## a steady call load (CALLS at once, default 40) for DURATION (seconds, or 60m, 1h; default 60m): SIPp calls against CDRs and queue events, daemon RSS, handles, event-loop lag, Postgres connections
	PBX_E2E_WORKERS=1 PBX_SOAK_SECONDS=$(or $(DURATION),60m) $(if $(CALLS),PBX_SOAK_CALLS=$(CALLS)) npx vitest run --project load --maxWorkers=1 test/load/soak.test.ts

check: deps ## type-check, lint, the dependency rules (.dependency-cruiser.cjs) and no cycles between src/ folders
	npx tsc --noEmit -p tsconfig.json
	npx eslint .
	npx depcruise src --config .dependency-cruiser.cjs --output-type err
	npx tsx scripts/check-folder-cycles.ts

bench: setup build ## call setup latency: pbx over ARI vs Asterisk's own dialplan, same machine
	npx tsx bench/call-setup.ts $(or $(CALLS),300) $(or $(RATE),15)

bench-acd: deps ## ACD routing decision time, 1,000 agents / 10,000 waiting calls / 50 queues, vs a naive router (CPU only)
	npx tsx bench/acd-routing.ts $(or $(DECISIONS),20000) $(or $(NAIVE_DECISIONS),100)

bench-queue: setup build ## queue -> agent phone ringing: pbx ACD vs Asterisk's app_queue, same Asterisk
	npx tsx bench/acd-vs-app-queue.ts $(or $(CALLS),50) $(or $(AGENTS),2) $(or $(BUSY_CALLS),24)

bench-recording: setup build ## CPU per concurrent call with and without recording: daemon (AMI MixMonitor) vs MixMonitor in the dialplan, same Asterisk
	npx tsx bench/recording.ts "$(CALLS)" "$(HOLD)" "$(REPEAT)" "$(CASES)"

bench-erlang: deps ## staffing search time at 500 Erlangs (Erlang C and A) vs a spreadsheet-style search (CPU only)
	npx tsx bench/erlang.ts $(or $(RUNS),2000)

bench-pacing: deps ## dialer pacing simulator, real pacing module in simulated time: one SCENARIO (JSON) or CURVE=1 (fixed levels 1-4 and predictive over SEEDS seeds, a markdown table)
	npx tsx bench/pacing-sim.ts $(or $(SCENARIO),bench/scenarios/pacing-20-agents.json) $(if $(CURVE),--curve --seeds $(or $(SEEDS),5))

bench-events: setup build ## event fan-out to 100 clients under a call load (LOAD_CALLS at once through a queue, HOLD_MS each): the SSE stream vs Asterisk's AMI, same Asterisk: A. an API state change vs a UserEvent, one at a time; B. the load's calls, channel created -> call.started vs Newchannel
	npx tsx bench/events-fanout.ts $(or $(ROUNDS),300) $(or $(CLIENTS),100) $(or $(LOAD_CALLS),10) $(or $(HOLD_MS),5000) $(or $(CALLS_MEASURED),150)

bench-import: deps ## contact-list import: 1,000,000 generated CSV rows through the real importer into PostgreSQL (time, rows/s, peak RSS) vs a 10,000-row baseline run
	npx tsx bench/campaign-import.ts --rows $(or $(ROWS),1000000) --baseline $(or $(BASELINE),10000)

bench-api: setup build ## the read API under load while CALLS calls are carried (CALLS=0: none): autocannon, 20 connections, at RATE req/s and at max, against /health/live (the floor), /health/ready, /me, /agents/live, /cdrs?limit=20 over CDRS CDRs, /reports/queues/live
	npx tsx bench/api.ts --cdrs $(or $(CDRS),200000) --rate $(or $(RATE),2000) --duration $(or $(DURATION),10) --connections $(or $(CONNECTIONS),20) --calls $(or $(CALLS),20) --hold $(or $(HOLD_MS),10000) $(if $(ONLY),--only $(ONLY)) $(if $(PROFILE),--profile) $(if $(LOG_LEVEL),--log-level $(LOG_LEVEL)) $(if $(HTTP_LOG),--http-log $(HTTP_LOG)) $(if $(DAEMON),--daemon $(DAEMON))

bench-capacity: setup build ## the call rate raised step by step on the *99 path until failures or p99 setup cross the limits: Asterisk's dialplan, a bare ARI app, the daemon with overload control off and on, same machine; PATH_KIND=full: the full path (DID, menu, key, queue, agent answers, RTP, recorded; TALK ms, AGENTS) for the dialplan with app_queue, a bare ARI app and the daemon
	$(if $(filter full,$(PATH_KIND)),npx tsx bench/capacity-full.ts --rates $(or $(RATES),$(CAPACITY_FULL_RATES)) --step $(or $(STEP),15) --talk $(or $(TALK),2000) --agents $(or $(AGENTS),100) --sides $(or $(SIDES),$(CAPACITY_FULL_SIDES)),npx tsx bench/capacity.ts --rates $(or $(RATES),$(CAPACITY_RATES)) --step $(or $(STEP),15) --hold $(or $(HOLD),1000) --sides $(or $(SIDES),$(CAPACITY_SIDES)))
# (a default with commas cannot be written inside $(or ...): it would split there)
CAPACITY_RATES := 25,50,100,150,200,250,300
CAPACITY_SIDES := dialplan,floor,off,on
CAPACITY_FULL_RATES := 5,10,20,30,40
CAPACITY_FULL_SIDES := dialplan,floor,ours

bench-reports: setup deps ## report queries over a year of generated history (SCALE x 10M CDRs, their queue events, 200 agents, 30 queues) vs plain SQL, and the CSV export of 1M CDRs
	npx tsx bench/reports.ts --scale $(or $(SCALE),1) --reps $(or $(REPS),50)

clean:
	rm -rf dist
