# shellcheck shell=bash
# NAME
#	lib.sh - what the benchmarks share (sourced, with SRC set to the tree)
# DESCRIPTION
#	The test helpers both benchmarks start servers with: tests/lib/common.sh
#	(tabulariumd, free ports, waiting) and tests/lib/pg.sh (a private
#	PostgreSQL). bench/bench.sh and bench/search/bench_search.sh source it.
export TAB_SRC=$SRC
# shellcheck source=../tests/lib/common.sh
. "$SRC/tests/lib/common.sh"
# shellcheck source=../tests/lib/pg.sh
. "$SRC/tests/lib/pg.sh"
