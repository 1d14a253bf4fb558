# Tally: build, install, test and demo.
#
#   make            build the extension and the tally program
#   make install    the extension into the PostgreSQL that pg_config names,
#                   the program into $(PREFIX)/bin (default /usr/local)
#   make check      install missing packages, build, run every test suite
#   make demo       install missing packages, start a local analytics cluster

PG_CONFIG ?= pg_config
PREFIX ?= /usr/local
CC ?= cc
FUZZ_CC ?= clang

PQ_INCLUDE := $(shell $(PG_CONFIG) --includedir)
WARNINGS := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wno-unused-parameter
PROGRAM_CFLAGS := -std=c11 -D_GNU_SOURCE -g $(WARNINGS) -I. -I$(PQ_INCLUDE) -pthread
PROGRAM_LIBS := -lpq -linih -lmicrohttpd -pthread
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# The program's modules; cli/ holds main(), the rest is shared with tests.
LIB_SOURCES := $(wildcard common/*.c) $(wildcard sync/*.c)
CLI_SOURCES := $(wildcard cli/*.c)
HEADERS := $(wildcard common/*.h sync/*.h cli/*.h)
UNIT_TESTS := $(patsubst sync/test/%.c,build/test/%,$(wildcard sync/test/test_*.c))

.PHONY: all ext programs asan unit fuzz install check demo demo-stop setup clean

all: ext programs

ext:
	$(MAKE) -C ext PG_CONFIG=$(PG_CONFIG)

programs: build/tally

build/tally: $(LIB_SOURCES) $(CLI_SOURCES) $(HEADERS)
	@mkdir -p build
	$(CC) $(PROGRAM_CFLAGS) -O2 $(LIB_SOURCES) $(CLI_SOURCES) -o $@ $(PROGRAM_LIBS)

# The same program with AddressSanitizer and UndefinedBehaviorSanitizer:
# the one the tests run.
asan: build/asan/tally

build/asan/tally: $(LIB_SOURCES) $(CLI_SOURCES) $(HEADERS)
	@mkdir -p build/asan
	$(CC) $(PROGRAM_CFLAGS) -O1 $(SANITIZE) $(LIB_SOURCES) $(CLI_SOURCES) -o $@ $(PROGRAM_LIBS)

unit: $(UNIT_TESTS)

build/test/%: sync/test/%.c $(LIB_SOURCES) $(HEADERS) $(wildcard sync/test/*.h)
	@mkdir -p build/test
	$(CC) $(PROGRAM_CFLAGS) -O1 $(SANITIZE) $< $(LIB_SOURCES) -o $@ $(PROGRAM_LIBS) -lcmocka

# libFuzzer targets need clang.
fuzz: build/fuzz/fuzz_decode

build/fuzz/fuzz_decode: sync/test/fuzz_decode.c sync/decode.c sync/decode.h
	@mkdir -p build/fuzz
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined $< sync/decode.c -o $@

install: all
	$(MAKE) -C ext install PG_CONFIG=$(PG_CONFIG)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 build/tally $(DESTDIR)$(PREFIX)/bin/tally

setup:
	scripts/setup

check: setup
	$(MAKE) all asan unit fuzz
	tests/harness/check

demo: setup
	$(MAKE) all
	scripts/demo

demo-stop:
	scripts/demo stop

clean:
	$(MAKE) -C ext clean
	rm -rf build
