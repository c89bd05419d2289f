#!/bin/sh
# Fill the listeners and upstream addresses into the nginx configuration, then run nginx.
set -eu
envsubst '${GJJ_PUBLIC_LISTEN} ${GJJ_OPS_LISTEN} ${GJJ_API_1} ${GJJ_API_2} ${GJJ_API_INTERNAL}' \
  < /etc/nginx/gjj.conf.template > /etc/nginx/nginx.conf
nginx -t -q
exec nginx -g 'daemon off;'
