# Tabularium: top-level entry points (CMake does the building).
#
#   make run     install what is missing, build, run tabulariumd in the
#                foreground on config/run.conf (Maildir + SQLite under ./var,
#                LMTP on 127.0.0.1:2424)
#   make test    install what the tests need, build normally and with
#                ASan+UBSan, run the whole ctest suite (real Postfix included)
#   make bench   throughput/memory benchmark against Dovecot LMTP and smtp-sink
#   make bench-search  search, full-text lag, catalog size and verify at 100k-1M
#                messages on both catalogs (bench/README.md, "Search benchmark")
#   make fuzz    run the libFuzzer targets for FUZZ_SECONDS each
#   make faults  the long fault suite (tests/faults, docs/faults.md)
#   make format  clang-format the sources;  make check-format  verify it

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

RUN_PKGS  = cmake make gcc pkg-config libgmime-3.0-dev libsqlite3-dev libssl-dev libpq-dev libunistring-dev \
            libcurl4-openssl-dev libpoppler-glib-dev libzip-dev libxml2-dev libldap-dev libcrypt-dev swaks
TEST_PKGS = $(RUN_PKGS) postfix postfix-pcre sqlite3 python3 clang-format valgrind \
            clang libclang-rt-14-dev postgresql ceph-mon ceph-osd radosgw ceph-common curl \
            dovecot-core dovecot-lmtpd dovecot-imapd slapd ldap-utils
BENCH_PKGS = $(TEST_PKGS)

SOURCES = $(wildcard common/*.[ch] backends/*.[ch] backends/*/*.[ch] mail/*.[ch] \
                     lmtpd/*.[ch] forwarder/*.[ch] indexer/*.[ch] catalog_writer/*.[ch] \
                     master/*.[ch] search/*.[ch] search/*/*.[ch] attach_reader/*.[ch] import/*.[ch] web/*.[ch] \
                     tests/unit/*.[ch] tests/drivers/*.[ch] \
                     tests/fuzz/*.[ch])

.PHONY: account all build asan run test test-unit faults bench bench-search fuzz format check-format \
        deps-run deps-test deps-bench clean

all: build

# Install Debian packages only when one is missing; quiet and idempotent.
# Postfix is preseeded to "No configuration": the tests run private instances.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing (run as root or install them)"; exit 1; fi; \
	  echo "installing:$$missing"; \
	  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

# The unprivileged account tabulariumd's workers run as (mail_owner).
MAIL_OWNER ?= tabularium
account:
	@if [ "$$(id -u)" = 0 ] && ! id $(MAIL_OWNER) >/dev/null 2>&1; then \
	  echo "creating system account $(MAIL_OWNER)"; \
	  useradd --system --home-dir /var/lib/tabularium --no-create-home \
	          --shell /usr/sbin/nologin $(MAIL_OWNER); \
	fi

deps-run: account
	$(call apt_install,$(RUN_PKGS))

deps-test: account
	$(call apt_install,$(TEST_PKGS))

deps-bench:
	$(call apt_install,$(BENCH_PKGS))

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

$(ASAN_BUILD)/Makefile:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTAB_SANITIZE=ON >/dev/null

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

asan: $(ASAN_BUILD)/Makefile
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The daemon's workers run as $(MAIL_OWNER): when this checkout sits in a
# directory that account cannot enter (root's home), ./var becomes a link to
# a directory under /var/lib/tabularium that it can.
run: deps-run build
	@mkdir -p var
	@if [ "$$(id -u)" = 0 ] && ! runuser -u $(MAIL_OWNER) -- test -x "$(CURDIR)/var/." 2>/dev/null; then \
	  alt=/var/lib/tabularium/run-$$(printf %s "$(CURDIR)" | md5sum | cut -c1-8); \
	  echo "$(CURDIR) is not reachable by $(MAIL_OWNER): ./var -> $$alt"; \
	  mkdir -p $$alt && chown $(MAIL_OWNER): $$alt && chmod 0700 $$alt && \
	  { [ -L var ] || rmdir var; } && ln -sfn $$alt var; \
	fi
	$(BUILD)/tabulariumd -f -c config/run.conf

test: deps-test build asan check-format
	cd $(BUILD) && ctest --output-on-failure -j 2
	cd $(ASAN_BUILD) && ctest --output-on-failure -j 2 -LE postfix

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

# The fault suite's long version (tests/faults, docs/faults.md); make test runs the short one.
faults: deps-test build
	FAULTS_LONG=1 ctest --test-dir $(BUILD) -L faults --output-on-failure

bench: deps-bench build
	TABULARIUMD=$(BUILD)/tabulariumd bash bench/bench.sh

# BENCH_SEARCH_SIZES etc. come from the environment (bench/README.md)
bench-search: deps-bench account build
	TABULARIUMD=$(BUILD)/tabulariumd TABULARIUM=$(BUILD)/tabularium bash bench/search/bench_search.sh

# libFuzzer targets, each for FUZZ_SECONDS (tests/fuzz/README.md)
FUZZ_SECONDS ?= 60
fuzz: deps-test
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh

format:
	clang-format -i $(SOURCES)

check-format:
	@bad=$$(for f in $(SOURCES); do clang-format --dry-run -Werror $$f >/dev/null 2>&1 || echo $$f; done); \
	if [ -n "$$bad" ]; then echo "not clang-formatted (run make format):"; echo "$$bad"; exit 1; fi; \
	echo "clang-format: ok"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
