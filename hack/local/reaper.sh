#!/usr/bin/env bash
# Runs one control-plane process and ties its life to the caller's: when our stdin reaches EOF (the caller exited,
# even by kill -9) the process is terminated, then killed. Writes the real PID to $1 so callers can signal it.
pidfile=$1; shift
"$@" </dev/null &
child=$!
echo "$child" >"$pidfile"
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
while kill -0 "$child" 2>/dev/null; do
  read -r -t 1 _ && continue
  [ $? -gt 128 ] && continue # timeout: the caller is still there
  kill -TERM "$child" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$child" 2>/dev/null
  break
done
wait "$child"
