# parley: make | make run | make test | make bench | make deps
CC      ?= cc
PKGS    := lua5.4 sqlite3 jansson libedit icu-uc icu-i18n libcrypto
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iruntime -Ibuild
LDLIBS  += -lm -lpthread

# Debian packages the build and the tests need (see README).
DEB_PKGS := build-essential pkg-config liblua5.4-dev libsqlite3-dev \
            libjansson-dev libedit-dev libicu-dev libssl-dev sqlite3

SRCS := $(filter-out runtime/main.c,$(wildcard runtime/*.c))
OBJS := $(patsubst runtime/%.c,build/%.o,$(SRCS)) build/stdlib_embed.o
STDLIB := $(shell find stdlib -name '*.lua' 2>/dev/null)

DB ?= var/parley.db
BOT ?= scripts/fanclub

.PHONY: all deps run test test-unit test-chat test-hostile bench clean

all: deps parley

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

build:
	@mkdir -p build

build/%.o: runtime/%.c runtime/*.h | build
	$(CC) $(CFLAGS) $$(pkg-config --cflags $(PKGS)) -c $< -o $@

build/stdlib_embed.c: runtime/embed.sh $(STDLIB) | build
	sh runtime/embed.sh stdlib > $@

build/stdlib_embed.o: build/stdlib_embed.c runtime/script.h
	$(CC) $(CFLAGS) -c $< -o $@

parley: build/main.o $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $$(pkg-config --libs $(PKGS)) $(LDLIBS)

run: deps parley
	@mkdir -p var
	@echo "parley: serving $(BOT) in the simulator (database $(DB)); type /help"
	./parley sim $(BOT) --db $(DB)

build/test_%: tests/unit/test_%.c $(OBJS) | build
	$(CC) $(CFLAGS) $$(pkg-config --cflags $(PKGS)) -o $@ $^ $$(pkg-config --libs $(PKGS)) $(LDLIBS)

UNIT_TESTS := $(patsubst tests/unit/%.c,build/%,$(wildcard tests/unit/test_*.c))

test: deps parley $(UNIT_TESTS)
	@sh tests/run.sh

bench: deps parley build/bench
	./build/bench

build/bench: bench/bench.c $(OBJS) | build
	$(CC) $(CFLAGS) $$(pkg-config --cflags $(PKGS)) -o $@ $^ $$(pkg-config --libs $(PKGS)) $(LDLIBS)

clean:
	rm -rf build parley
