# parley: make | make run | make test | make test-asan | make test-tsan | make bench | make deps
CC      ?= cc
PKGS    := lua5.4 sqlite3 jansson libedit icu-uc icu-i18n libcrypto libmicrohttpd libcurl libarchive libpq
CFLAGS  ?= -O2 -g
# runtime/ is one folder per layer, lowest first; a file includes headers of
# its own layer and the ones below it only (runtime/layers.py, run by make;
# tests/layers.sh, run by make test, shows it refuses each kind of breach).
LAYERS := core store lua engine providers send transcript server cli
# B: the build folder; PARLEY: the binary. make test-asan uses others.
B       ?= build
PARLEY  ?= parley
# A layer's folder may hold one sub-folder per part (runtime/providers/<name>/:
# everything of one provider); its files belong to that layer.
LAYER_DIRS := $(foreach l,$(LAYERS),runtime/$(l) $(patsubst %/,%,$(sort $(dir $(wildcard runtime/$(l)/*/*.[ch])))))
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
                   $(foreach d,$(LAYER_DIRS),-I$(d)) -I$(B)
# C++ sources (runtime/*/*.cc: phone_zone.cc wraps the C++ libphonenumber) get
# the same flags as C, sanitizers included, less the C-only ones.
CXX     ?= g++
C_ONLY  := -std=% -Wstrict-prototypes -Wmissing-prototypes \
           -Wold-style-definition -Wimplicit-function-declaration \
           -Wdeclaration-after-statement -Wnested-externs -Wbad-function-cast
ALL_CXXFLAGS = $(filter-out $(C_ONLY),$(CFLAGS)) -std=c++17 $(CXXFLAGS)
LDLIBS  += -lphonenumber -lstdc++ -lm -lpthread

# Debian packages the build and the tests need (see README).
DEB_PKGS := build-essential pkg-config liblua5.4-dev libsqlite3-dev \
            libjansson-dev libedit-dev libicu-dev libssl-dev sqlite3 \
            libphonenumber-dev python3 python3-phonenumbers libmicrohttpd-dev curl libcurl4-openssl-dev \
            libarchive-dev kannel kannel-extras lua5.4 postgresql libpq-dev node-diff \
            libjs-d3 libjs-c3

SRCS := $(filter-out runtime/cli/main.c,$(foreach d,$(LAYER_DIRS),$(wildcard $(d)/*.c)))
CXX_SRCS := $(foreach d,$(LAYER_DIRS),$(wildcard $(d)/*.cc))
HDRS := $(foreach d,$(LAYER_DIRS),$(wildcard $(d)/*.h))
OBJS := $(patsubst runtime/%.c,$(B)/%.o,$(SRCS)) \
        $(patsubst runtime/%.cc,$(B)/%.o,$(CXX_SRCS)) $(B)/stdlib_embed.o $(B)/console_embed.o
STDLIB := $(shell find stdlib -name '*.lua' 2>/dev/null)
CONSOLE := $(shell find runtime/server/console -type f 2>/dev/null)

DB ?= var/parley.db
BOT ?= scripts/fanclub

.PHONY: all deps test-deps run sim test test-asan test-tsan bench pattern-diff clean

# Every rule that runs the compiler, the linker or python3 has deps as an
# order-only prerequisite: under make -j on a fresh machine nothing is
# compiled before the packages (the compiler and the headers) are installed,
# and an installed package does not make anything out of date.

all: deps $(PARLEY)

# and what only the tests need: the console's are driven in headless Chromium
TEST_PKGS := chromium chromium-driver python3-selenium

deps:
	@$(call install,$(DEB_PKGS))

test-deps: deps
	@$(call install,$(TEST_PKGS))

# installs those of the packages $(1) that are missing (apt-get, as root or with sudo)
define install
	missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

$(B):
	@mkdir -p $(B)

$(B)/%.o: runtime/%.c $(HDRS) | $(B) deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $$(pkg-config --cflags $(PKGS)) -c $< -o $@

$(B)/%.o: runtime/%.cc $(HDRS) | $(B) deps
	@mkdir -p $(dir $@)
	$(CXX) $(ALL_CXXFLAGS) $$(pkg-config --cflags $(PKGS)) -c $< -o $@

$(B)/stdlib_embed.c: runtime/lua/embed.sh $(STDLIB) | $(B)
	sh runtime/lua/embed.sh stdlib > $@

$(B)/stdlib_embed.o: $(B)/stdlib_embed.c runtime/lua/script.h | deps
	$(CC) $(CFLAGS) -c $< -o $@

# the console's pages (runtime/server/console/), served by parley serve, with
# the JavaScript libraries they use as Debian ships them (and their licences)
CONSOLE_LIBS := /usr/share/nodejs/diff/dist/diff.js:vendor/diff.js \
                /usr/share/doc/node-diff/copyright:vendor/diff.copyright.txt \
                /usr/share/javascript/d3/d3.min.js:vendor/d3.min.js \
                /usr/share/doc/libjs-d3/copyright:vendor/d3.copyright.txt \
                /usr/share/javascript/c3/c3.min.js:vendor/c3.min.js \
                /usr/share/javascript/c3/c3.min.css:vendor/c3.min.css \
                /usr/share/doc/libjs-c3/copyright:vendor/c3.copyright.txt
$(B)/console_embed.c: runtime/lua/embed.sh $(CONSOLE) | $(B) deps
	@rm -rf $(B)/console-files && mkdir -p $(B)/console-files/vendor
	@cp -R runtime/server/console/. $(B)/console-files/
	@for l in $(CONSOLE_LIBS); do cp "$${l%%:*}" "$(B)/console-files/$${l#*:}" || exit 1; done
	sh runtime/lua/embed.sh $(B)/console-files console_find '*' > $@

$(B)/console_embed.o: $(B)/console_embed.c runtime/lua/script.h | deps
	$(CC) $(CFLAGS) -c $< -o $@

# core/phone_zone.cc's prefix -> time-zone table, generated from the map upstream
# libphonenumber keeps and Debian's python3-phonenumbers ships (never written
# by hand, never committed). Fails, naming the package, if the data is missing.
PHONE_TZ_DATA ?= /usr/lib/python3/dist-packages/phonenumbers/tzdata
PYTHON  ?= python3
$(B)/phone_tz_data.h: runtime/core/gen_phone_tz.py $(wildcard $(PHONE_TZ_DATA)/data*.py) | $(B) deps
	$(PYTHON) runtime/core/gen_phone_tz.py $(PHONE_TZ_DATA) > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(B)/core/phone_zone.o: $(B)/phone_tz_data.h

$(PARLEY): $(B)/cli/main.o $(OBJS) | deps $(B)/layers.ok
	$(CC) $(CFLAGS) -o $@ $^ $$(pkg-config --libs $(PKGS)) $(LDLIBS)

# The layer check (runtime/layers.py): no file includes a header of a layer
# above its own, no object uses a symbol defined above it, and no circle
# between objects of a layer but those runtime/circles.txt lists. The stamp
# is written, not touched: under a moved clock (faketime) touch would date
# it by that clock, before the objects it stands for.
$(B)/layers.ok: runtime/layers.py runtime/circles.txt $(SRCS) $(CXX_SRCS) $(HDRS) $(B)/cli/main.o $(OBJS)
	$(PYTHON) runtime/layers.py $(B) $(LAYERS)
	@echo 'the layer check passed' > $@

# make run: the bots in scripts/ over HTTP on 127.0.0.1:8080 (make sim: the
# simulator on $(BOT)).
PORT ?= 8080
run: deps parley
	@mkdir -p var
	@token=$${PARLEY_WEBHOOK_TOKEN:-dev-token}; admin=$${PARLEY_ADMIN_TOKEN:-dev-admin}; \
	echo "parley: serving scripts/ on http://127.0.0.1:$(PORT) (database $(DB)). Try:"; \
	echo "  curl -s -H 'Authorization: Bearer '$$token -H 'Content-Type: application/json' -d '{\"from\":\"+15550001\",\"text\":\"hi\"}' http://127.0.0.1:$(PORT)/v1/bots/fanclub/messages"; \
	echo "Reload a bot after editing it: PARLEY_ADMIN_TOKEN=$$admin ./parley reload fanclub --url http://127.0.0.1:$(PORT)"; \
	echo "The console: http://127.0.0.1:$(PORT)/console (sign in with any name and the token $$admin)"; \
	echo "Stop with Ctrl-C."; \
	PARLEY_WEBHOOK_TOKEN=$$token PARLEY_ADMIN_TOKEN=$$admin exec ./parley serve --listen 127.0.0.1:$(PORT) --db $(DB) --scripts scripts

sim: deps parley
	@mkdir -p var
	@echo "parley: $(BOT) in the simulator (database $(DB)); type /help"
	./parley sim $(BOT) --db $(DB)

$(B)/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(OBJS) | $(B) deps
	$(CC) $(CFLAGS) $$(pkg-config --cflags $(PKGS)) -o $@ $(filter-out %.h,$^) $$(pkg-config --libs $(PKGS)) $(LDLIBS)

UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/%,$(wildcard tests/unit/test_*.c))

# A local fake of Twilio's Messages API (tests/fake/README.md): the e2e
# tests and the bench send through it.
$(B)/fake_twilio: tests/fake/fake_twilio.c | $(B) deps
	$(CC) $(CFLAGS) $$(pkg-config --cflags libmicrohttpd libcurl jansson libcrypto icu-uc) -o $@ $< \
	  $$(pkg-config --libs libmicrohttpd libcurl jansson libcrypto) -lpthread

# (the benchmarks are built too, so that they cannot stop compiling unseen)
test: test-deps $(PARLEY) $(UNIT_TESTS) $(B)/fake_twilio $(B)/bench $(B)/ceiling
	@PARLEY=./$(PARLEY) BUILD=$(B) sh tests/run.sh

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps
	PARLEY_SANITIZED=1 $(MAKE) B=build-asan PARLEY=build-asan/parley \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -Wno-format-overflow" \
	  test

# The code that runs on several threads under ThreadSanitizer (tests/tsan.sh):
# the unit tests that start the engine's threads (the writer, handlers
# waiting for HTTP, a bot reloaded while the sender's journals commit) and the e2e tests that load a server with several engine
# workers (workers.sh), kill it, reload it, and send through the sender.
# test_outbox_store and test_providers start no thread; test_broadcast_crash
# forks a process that has threads, which ThreadSanitizer does not support.
TSAN_UNIT_TESTS := test_engine test_writer test_waiting test_reload_race
test-tsan: deps
	$(MAKE) B=build-tsan PARLEY=build-tsan/parley CFLAGS="-O1 -g -fsanitize=thread" \
	  build-tsan/parley $(TSAN_UNIT_TESTS:%=build-tsan/%) build-tsan/fake_twilio
	@PARLEY=build-tsan/parley BUILD=build-tsan sh tests/tsan.sh $(TSAN_UNIT_TESTS)

# make bench: build/bench (the in-process workload next to Hubot 14 in
# memory, the cost curve, engine_threads, idle contacts, timers, import,
# one and two nodes on PostgreSQL in-process, 10M contacts on PostgreSQL),
# bench/http.sh (parley serve, the libmicrohttpd ceiling build/ceiling and
# Hubot 14 + express under wrk), bench/cluster.sh (one and two nodes on
# PostgreSQL next to SQLite, and a failover), bench/send.py (the sender). wrk loads the
# HTTP part; node and npm run the two Hubot peers (left out, with a line
# saying so, when they cannot be had). A missed target prints MISSED; only
# WRONG totals fail.
bench: test-deps $(PARLEY) $(B)/bench $(B)/ceiling $(B)/fake_twilio
	@command -v wrk >/dev/null || { if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }
	@command -v npm >/dev/null || { if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null 2>&1 || :; }
	./$(B)/bench
	sh bench/http.sh
	sh bench/cluster.sh
	python3 bench/send.py ./$(PARLEY) $(B)/fake_twilio
	/usr/bin/python3 bench/console.py ./$(PARLEY)

# The HTTP ceiling bench/http.sh compares parley serve to: libmicrohttpd
# answering a constant TwiML (bench/ceiling.c).
$(B)/ceiling: bench/ceiling.c | $(B) deps
	$(CC) $(CFLAGS) $$(pkg-config --cflags libmicrohttpd) -o $@ $< $$(pkg-config --libs libmicrohttpd) -lpthread

$(B)/bench: bench/bench.c bench/workload.c bench/workload.h $(OBJS) | $(B) deps
	$(CC) $(CFLAGS) $$(pkg-config --cflags $(PKGS)) -o $@ $(filter-out %.h,$^) $$(pkg-config --libs $(PKGS)) $(LDLIBS)

# runtime/lua/lua_pattern.diff: what the bounded pattern matcher changes in
# Lua 5.4.4's (downloads Debian's lua5.4 source; tests/pattern_diff.sh checks
# the kept diff against lua_pattern.c offline).
pattern-diff:
	sh runtime/lua/lua_pattern_diff.sh > runtime/lua/lua_pattern.diff.tmp
	mv runtime/lua/lua_pattern.diff.tmp runtime/lua/lua_pattern.diff

clean:
	rm -rf build build-asan build-tsan parley
