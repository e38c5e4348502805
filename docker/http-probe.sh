#!/usr/bin/env bash
# Health check for the containers that may have neither curl nor wget (Apicurio Registry's UBI
# image, the Kafka Connect image): an HTTP GET over bash's /dev/tcp, healthy on a 200 whose body
# contains every further argument.
#   http-probe.sh <port> <path> [text the body must contain]...
port=$1
path=$2
shift 2
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
# HTTP/1.0 with Connection: close: the server ends the body by closing, never with chunks.
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t 5 status <&3 || exit 1
[[ $status =~ ^HTTP/1\.[01]\ 200 ]] || exit 1
body=''
while IFS= read -r -t 5 line <&3 || [[ -n $line ]]; do
  body+=$line
done
for text in "$@"; do
  [[ $body == *"$text"* ]] || exit 1
done
exit 0
