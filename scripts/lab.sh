#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# zonewall netns lab: scripts/lab.sh up|down|status|collector MATRIX
# [--engine nft|xdp|dpdk|none] [--prefix TAG] [--hosts N] [--apply]
# [--collector] [--json]. See docs/lab.md.
exec /usr/bin/python3 "$(dirname "$0")/lab.py" "$@"
