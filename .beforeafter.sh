#!/usr/bin/env bash
# beforeafter.sh: the same benchmarks at a base commit and in the working
# tree, run interleaved so that both sides see the same machine load.
#
#   bench/beforeafter.sh [-n ROUNDS] [-t BENCHTIME] [-f FLOORS] [-m UNIT] BASE_REF PKG:REGEX...
#
# PKG is a package directory relative to the repository root, in the root
# module or in a nested one of go.work ("queue", "executor", "bench");
# REGEX is go test's -bench pattern ("BenchmarkQueue/mpmc"). For each PKG, a
# test binary is built with `go test -c` at BASE_REF (in a temporary git
# worktree, removed on exit) and in the working tree this script lives in.
# Then ROUNDS rounds (default 5) run each binary once per side (-test.count 1,
# -test.benchtime BENCHTIME, default 500ms, -test.benchmem), before and after
# back to back, the side that goes first alternating from round to round.
#
# It prints a markdown table: per benchmark, the median ns/op and allocs/op
# of each side, and after/before: the median of the rounds' own ratios
# (each round's after over the same round's before, run back to back), which
# a machine whose load drifts between rounds moves less than a ratio of the
# two medians. A benchmark missing on one side shows "-".
# With -f chan,chanPool (a comma list of row names; where a benchmark has
# siblings of several, the one named first), a benchmark with a sibling of
# one of those names (same parent: Queue/spsc/ours and
# Queue/spsc/chan) also gets its ratio to that floor on each side, medians of
# the per-round ratios: the figure the bench module's targets are judged on.
# With -m cpu-ns/item (repeatable), the benchmarks that report that metric
# get a second row, "name [cpu-ns/item]", judged the same way on it.
# Raw outputs are kept with -k DIR.
#
# Example: bench/beforeafter.sh -n 5 -f chan main 'bench:BenchmarkQueue' 'queue:BenchmarkPutGet'
set -euo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }

rounds=5 benchtime=500ms floors="" keep="" units="ns/op"
while getopts "n:t:f:k:m:h" opt; do
	case $opt in
	n) rounds=$OPTARG ;;
	t) benchtime=$OPTARG ;;
	f) floors=$OPTARG ;;
	k) keep=$OPTARG ;;
	m) units="$units $OPTARG" ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
base_ref=$1
shift

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
git -C "$root" rev-parse --verify --quiet "$base_ref^{commit}" >/dev/null ||
	{ echo "beforeafter: BASE_REF $base_ref is not a commit" >&2; exit 2; }
tmp=$(mktemp -d)
cleanup() {
	git -C "$root" worktree remove --force "$tmp/base" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
git -C "$root" worktree add --quiet --detach "$tmp/base" "$base_ref"

# Build every binary first, so a build error stops the run before it starts.
specs=("$@")
for i in "${!specs[@]}"; do
	spec=${specs[$i]}
	case $spec in
	*:*) ;;
	*) echo "beforeafter: $spec is not PKG:REGEX" >&2; exit 2 ;;
	esac
	pkg=${spec%%:*}
	pkg=${pkg#./}
	for side in before after; do
		dir=$root/$pkg
		[ "$side" = before ] && dir=$tmp/base/$pkg
		echo "beforeafter: building $pkg ($side)" >&2
		(cd "$dir" && go test -c -o "$tmp/$side.$i.test" .)
	done
done

# One run of spec i on one side, its benchmark lines tagged "side pkg".
run() {
	local side=$1 i=$2 pkg=${specs[$2]%%:*} re=${specs[$2]#*:} dir
	pkg=${pkg#./}
	dir=$root/$pkg
	[ "$side" = before ] && dir=$tmp/base/$pkg
	(cd "$dir" && "$tmp/$side.$i.test" -test.run '^$' -test.bench "$re" \
		-test.count 1 -test.benchtime "$benchtime" -test.benchmem) |
		tee -a "$tmp/raw.$side.txt" |
		awk -v side="$side" -v pkg="$pkg" -v round="$3" -v units="$units" '
			BEGIN { nu = split(units, u, " ") }
			/^Benchmark/ && / ns\/op/ {
				name = $1; sub(/-[0-9]+$/, "", name)
				delete m
				for (j = 3; j < NF; j += 2) m[$(j + 1)] = $j
				for (i = 1; i <= nu; i++)
					if (u[i] in m)
						print side, pkg, name, round, u[i], m[u[i]], i == 1 && ("allocs/op" in m) ? m["allocs/op"] : "-"
			}'
}

for ((r = 1; r <= rounds; r++)); do
	echo "beforeafter: round $r of $rounds" >&2
	for i in "${!specs[@]}"; do
		if ((r % 2)); then
			run before "$i" "$r"; run after "$i" "$r"
		else
			run after "$i" "$r"; run before "$i" "$r"
		fi
	done
done >"$tmp/results.txt"

if [ -n "$keep" ]; then
	mkdir -p "$keep"
	cp "$tmp/raw.before.txt" "$tmp/raw.after.txt" "$tmp/results.txt" "$keep/"
fi

echo "base $base_ref ($(git -C "$root" rev-parse --short "$base_ref")) against the working tree" \
	"($(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD || echo '+changes'));" \
	"$rounds rounds, -benchtime $benchtime; medians of ns/op unless a row names its unit"
echo
awk -v floors="$floors" '
	function median(list,    a, n, i, j, t) {
		n = split(list, a, " ")
		if (n == 0) return ""
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function show(v) { return v == "" ? "-" : sprintf(v >= 100 ? "%.0f" : "%.3g", v) }
	BEGIN { nf = split(floors, fl, ","); for (i = 1; i <= nf; i++) rank[fl[i]] = i }
	{
		# key: "pkg name" for ns/op, "pkg name [unit]" for the others
		key = $2 " " $3 ($5 == "ns/op" ? "" : " [" $5 "]")
		if (!(key in seen)) { seen[key] = 1; order[++n] = key; unitof[key] = $5 }
		ns[$1, key] = ns[$1, key] " " $6
		if ($7 != "-") al[$1, key] = al[$1, key] " " $7
		t[$1, key, $4] = $6
		if ($4 > maxr) maxr = $4
		leaf = $3; sub(/.*\//, "", leaf)
		parent = $2 " " $3; sub(/\/[^\/]*$/, "", parent)
		parentof[key] = parent
		if ((leaf in rank) && (!((parent, $5) in floorrank) || rank[leaf] < floorrank[parent, $5])) {
			floorof[parent, $5] = key
			floorrank[parent, $5] = rank[leaf]
		}
	}
	END {
		hdr = "| benchmark | before | after | after/before | before allocs/op | after allocs/op |"
		sep = "|---|---:|---:|---:|---:|---:|"
		if (nf) { hdr = hdr " before/floor | after/floor |"; sep = sep "---:|---:|" }
		print hdr; print sep
		for (k = 1; k <= n; k++) {
			key = order[k]
			b = median(ns["before", key]); a = median(ns["after", key])
			paired = ""
			for (r = 1; r <= maxr; r++)
				if (("before", key, r) in t && ("after", key, r) in t && t["before", key, r] > 0)
					paired = paired " " t["after", key, r] / t["before", key, r]
			line = sprintf("| %s | %s | %s | %s | %s | %s |", key, show(b), show(a), paired == "" ? "-" : sprintf("%.2fx", median(paired)),
				show(median(al["before", key])), show(median(al["after", key])))
			if (nf) {
				f = floorof[parentof[key], unitof[key]]
				for (s = 1; s <= 2; s++) {
					side = s == 1 ? "before" : "after"; list = ""
					if (f != "" && f != key)
						for (r = 1; r <= maxr; r++)
							if ((side, key, r) in t && (side, f, r) in t && t[side, f, r] > 0)
								list = list " " t[side, key, r] / t[side, f, r]
					line = line sprintf(" %s |", list == "" ? "-" : sprintf("%.2fx", median(list)))
				}
			}
			print line
		}
	}' "$tmp/results.txt"
