#!/usr/bin/env bash
# Print the Debian archive to fetch packages from: $DEBIAN_MIRROR when set; else the one this machine's apt uses
# for its own release (the first enabled `deb` source whose suite is /etc/os-release's VERSION_CODENAME, in
# sources.list, sources.list.d/*.list or sources.list.d/*.sources); else debootstrap's default mirror.
# Used by build-images.sh (debootstrap) and install-docker.sh (the trixie packages).
#   APT_DIR (default /etc/apt) and OS_RELEASE (default /etc/os-release) point elsewhere for tests.
set -euo pipefail

if [[ -n ${DEBIAN_MIRROR:-} ]]; then
    echo "$DEBIAN_MIRROR"
    exit 0
fi
apt_dir=${APT_DIR:-/etc/apt}
codename=$( (. "${OS_RELEASE:-/etc/os-release}" && echo "${VERSION_CODENAME:-}") 2>/dev/null || true)

# One-line style: `deb [options] URI suite component...`.
one_line() {
    awk -v suite="$codename" '
        $1 == "deb" {
            i = 2
            if ($2 ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
            if ($(i + 1) == suite) { print $i; exit }
        }' "$1"
}

# deb822 style: paragraphs of `Types:`, `URIs:`, `Suites:`, `Enabled:` fields.
deb822() {
    awk -v suite="$codename" '
        BEGIN { RS = ""; FS = "\n" }
        {
            types = uris = suites = ""; enabled = "yes"
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^[ \t]*#/ || index($i, ":") == 0) continue
                key = tolower(substr($i, 1, index($i, ":") - 1))
                value = " " substr($i, index($i, ":") + 1) " "
                if (key == "types") types = value
                else if (key == "uris") uris = value
                else if (key == "suites") suites = value
                else if (key == "enabled") enabled = tolower(value)
            }
            if (types ~ / deb / && enabled !~ /no/ && suites ~ (" " suite " ")) {
                split(uris, found, " "); print found[1]; exit
            }
        }' "$1"
}

if [[ -n $codename ]]; then
    for file in "$apt_dir/sources.list" "$apt_dir"/sources.list.d/*.list "$apt_dir"/sources.list.d/*.sources; do
        [[ -f $file ]] || continue
        if [[ $file == *.sources ]]; then uri=$(deb822 "$file"); else uri=$(one_line "$file"); fi
        if [[ $uri =~ ^(https?|ftp|file):// ]]; then
            echo "${uri%/}"
            exit 0
        fi
    done
fi
if debootstrap=$(command -v debootstrap) \
        && default=$(sed -n 's/^DEF_MIRROR="\(.*\)"$/\1/p' "$debootstrap" | head -n 1) && [[ -n $default ]]; then
    echo "$default"
    exit 0
fi
echo "debian-mirror: no Debian archive found in $apt_dir for '${codename:-?}' and no debootstrap;" \
    "set DEBIAN_MIRROR" >&2
exit 1
