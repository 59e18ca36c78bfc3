# Sourced by run.sh and test.sh: make sure Redis answers at MEDUPLOAD_REDIS_URL, starting a local
# redis-server (data under data/redis, AOF on) when nothing does; stop_started_redis undoes that.
# shellcheck shell=bash

STARTED_REDIS_PID=""

redis_answers() {
    [[ "$(timeout 5 redis-cli -u "$1" ping 2>/dev/null)" == "PONG" ]]
}

ensure_redis() {
    local url=${MEDUPLOAD_REDIS_URL:-redis://127.0.0.1:6379/0}
    if redis_answers "$url"; then
        say "Redis answers at ${url%%\?*}"
        return 0
    fi
    # Only a Redis we can run ourselves: plain redis:// on this machine.
    local re='^redis://([^@/]*@)?(127\.0\.0\.1|localhost|\[::1\])(:([0-9]+))?(/[0-9]*)?$'
    if ! [[ "$url" =~ $re ]]; then
        die "nothing answers at MEDUPLOAD_REDIS_URL ($url) and it is not a local redis:// address we could start"
    fi
    local port=${BASH_REMATCH[4]:-6379}
    local dir="$ROOT/data/redis"
    mkdir -p "$dir"
    say "Starting redis-server on 127.0.0.1:$port (data in data/redis, AOF on)"
    # setsid: Ctrl-C reaches the app first; Redis is stopped by the EXIT trap after it.
    setsid redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
        --dir "$dir" --appendonly yes --appendfsync everysec --save "" \
        --daemonize no --logfile "$dir/redis.log" &
    STARTED_REDIS_PID=$!
    local _
    for _ in $(seq 1 50); do
        if redis_answers "redis://127.0.0.1:$port/0"; then
            return 0
        fi
        if ! kill -0 "$STARTED_REDIS_PID" 2>/dev/null; then
            STARTED_REDIS_PID=""
            tail -n 20 "$dir/redis.log" >&2 || true
            die "redis-server did not start (log above, in data/redis/redis.log)"
        fi
        sleep 0.2
    done
    die "redis-server on port $port did not answer within 10 s"
}

stop_started_redis() {
    if [[ -n "$STARTED_REDIS_PID" ]] && kill -0 "$STARTED_REDIS_PID" 2>/dev/null; then
        say "Stopping the redis-server we started (pid $STARTED_REDIS_PID)"
        # SIGTERM: Redis flushes the append-only file and exits cleanly.
        kill -TERM "$STARTED_REDIS_PID" 2>/dev/null || true
        wait "$STARTED_REDIS_PID" 2>/dev/null || true
    fi
    STARTED_REDIS_PID=""
}
