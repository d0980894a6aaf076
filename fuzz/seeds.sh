#!/usr/bin/env bash
# Writes the committed seed corpus, fuzz/corpus/<target>/seed-*, in each target's
# input format (see the top of fuzz/fuzz_targets/<target>.rs): every fixture in
# fixtures/events/ as a body, and representative headers, ROUTES, whsec secrets,
# queue messages and configurations. Rerun after adding a fixture; the
# fuzzer's own finds (named by hash) are left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
fixtures=../fixtures/events
secret=leadnest_dev_secret
whsec=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw # the Standard Webhooks test vector's

targets=(signature payload dedup routes standard_webhooks delivery config filter scrub)
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  rm -f "corpus/$t"/seed-*
done

# An i64 as 8 little-endian bytes, as arbitrary reads it.
le64() {
  local i
  for i in 0 1 2 3 4 5 6 7; do
    printf "\\x$(printf %02x $((($1 >> (8 * i)) & 255)))"
  done
}
hmac_hex() { openssl dgst -sha256 -hmac "$1" -r | cut -d' ' -f1; }
seed() { cat >"corpus/$1/seed-$2"; } # target name < content

# Every fixture, as each body-taking target reads it.
for file in "$fixtures"/*.json; do
  event="$(basename "$file" .json)"
  sig="$(hmac_hex "$secret" <"$file")"
  id="msg_$(printf %s "$event" | sha256sum | cut -c1-32)"
  { printf '%s\n%s\n' "$secret" "$sig"; cat "$file"; } | seed signature "$event"
  { le64 0; le64 300; cat "$file"; } | seed payload "$event"
  seed dedup "$event" <"$file"
  { le64 1705314600; printf '%s\n%s\n' "$whsec" "$id"; cat "$file"; } | seed standard_webhooks "$event"
  { printf '{"route":"crm","event":"%s","signature":"%s","webhook_id":"%s"}\n' "$event" "$sig" "$id"
    cat "$file"; } | seed delivery "$event"
done

# Headers: each spelling the SPEC allows, rotation, and near misses.
opened="$fixtures/email.opened.json"
sig="$(hmac_hex "$secret" <"$opened")"
header_seed() { { printf '%s\n%s\n' "$2" "$3"; cat "$opened"; } | seed signature "$1"; }
header_seed header-uppercase-prefix "$secret" "SHA256=${sig^^}"
header_seed header-padded "$secret" "  sha256=$sig	"
header_seed header-rotation " old_secret , $secret,,new_secret " "$sig"
header_seed header-wrong-secret other_secret "$sig"
header_seed header-63-digits "$secret" "${sig:0:63}"
header_seed header-65-digits "$secret" "${sig}0"
header_seed header-two-digests "$secret" "$sig, $sig"
header_seed header-base64 "$secret" "Ke7bjiaPa1Nb6+rcn/K1mQ6h6e5Vy3Ew2hAqRnEYs5E="
header_seed header-sha1-prefix "$secret" "sha1=$sig"
header_seed header-non-ascii "$secret" "$(printf 'é%.0s' {1..32})"
header_seed header-blank-secrets " , ," "$sig"
printf '%s\n{}' "$secret" | seed signature header-missing
printf '%s\n99999999999999999999999\n{}' "$secret" | seed signature header-huge-length

# Bodies at the edges of the envelope and the window.
body_seed() { { le64 "$2"; le64 300; printf '%s' "$3"; } | seed payload "$1"; printf '%s' "$3" | seed dedup "$1"; }
envelope() { printf '{"event":"email.sent","timestamp":%s,"data":%s}' "$1" "$2"; }
body_seed stale-past 301 "$(envelope '"2024-01-15T10:30:00Z"' '{"message_id":"m1"}')"
body_seed stale-future -301 "$(envelope '"2024-01-15T10:30:00Z"' '{"message_id":"m1"}')"
body_seed window-edge 300 "$(envelope '"2024-01-15T10:30:00Z"' '{}')"
body_seed ts-fraction-offset 0 "$(envelope '"2024-01-15T05:00:00.123456-05:30"' '{}')"
body_seed ts-lowercase 0 "$(envelope '"2024-01-15t10:30:00z"' '{}')"
body_seed ts-leap-second 0 "$(envelope '"2016-12-31T23:59:60Z"' '{}')"
body_seed ts-year-extremes 0 "$(envelope '"0000-01-01T00:00:00+23:59"' '{"message_id":"9999-12-31T23:59:59-23:59"}')"
body_seed ts-impossible-date 0 "$(envelope '"2024-02-30T10:30:00Z"' '{}')"
body_seed ts-bare-date 0 "$(envelope '"2024-01-15"' '{}')"
body_seed ts-number 0 "$(envelope 1705314600 '{}')"
body_seed message-id-number 0 "$(envelope '"2024-01-15T10:30:00Z"' '{"message_id":42}')"
body_seed message-id-empty 0 "$(envelope '"2024-01-15T10:30:00Z"' '{"message_id":""}')"
body_seed escapes 0 '{"event":"email\u002eopened","timestamp":"2024-01-15T10:30:00Z","data":{"message_id":"m\u00e9\ud83d\ude00"}}'
body_seed repeated-field 0 '{"event":"email.sent","event":"sms.sent","timestamp":"2024-01-15T10:30:00Z","data":{}}'
body_seed unknown-event 0 "$(envelope '"2024-01-15T10:30:00Z"' '{"x":[1,2,{"y":null}]}' | sed s/email.sent/push.sent/)"
body_seed not-an-object 0 '[{"event":"email.sent"}]'
body_seed deep-nesting 0 "$(envelope '"2024-01-15T10:30:00Z"' "{\"x\":$(printf '[%.0s' {1..500})$(printf ']%.0s' {1..500})}")"
{ le64 0; le64 300; printf '{"event":"\xff.sent"}'; } | seed payload not-utf8

# ROUTES: the documented examples, and one of each kind of problem.
readme='[ {"name": "crm", "url": "https://crm.example.com/hooks/leadnest", "events": ["email.*", "subscriber.created"], "signing_secret": "CRM_SIGNING_SECRET"}, {"name": "analytics", "queue": "ANALYTICS_QUEUE", "events": ["*"]} ]'
dev_routes="$(sed -n "s/^ROUTES='\(.*\)'$/\1/p" ../.dev.vars.example)"
routes_seed() { printf '%s' "$2" | seed routes "$1"; }
routes_seed readme "$readme"
routes_seed dev-vars "$dev_routes"
routes_seed empty '[]'
routes_seed local-http '[{"name":"a","url":"http://localhost:8788/x"},{"name":"b","url":"http://[::1]/h"},{"name":"c","url":"http://127.0.0.1:9/"}]'
routes_seed inline-whsec "[{\"name\":\"a\",\"url\":\"https://a.example\",\"signing_secret\":\"$whsec\"}]"
routes_seed bad-whsec '[{"name":"a","url":"https://a.example","signing_secret":"whsec_!!!"},{"name":"b","url":"https://b.example","signing_secret":"BAD_SECRET"}]'
routes_seed bad-names '[{"name":"Bad Name","url":"https://a.example"},{"name":"a","url":"https://a.example"},{"name":"a","queue":"ANALYTICS_QUEUE"}]'
routes_seed bad-events '[{"name":"a","url":"https://a.example","events":[]},{"name":"b","url":"https://b.example","events":["email","*.sent","email.*.*"]}]'
routes_seed bad-destinations '[{"name":"a"},{"name":"b","url":"https://b.example","queue":"ANALYTICS_QUEUE"},{"name":"c","url":"http://crm.example.com/"},{"name":"d","url":"ftp://d.example/"},{"name":"e","url":"not a url"},{"name":"f","queue":"MISSING"}]'
routes_seed unknown-field '[{"name":"a","url":"https://a.example","event":["*"]}]'
routes_seed not-an-array '{"name":"a","url":"https://a.example"}'
# Secrets where names belong, and URLs with credentials: no problem may repeat them.
leaky_routes="[{\"name\":\"crm\",\"url\":\"https://crm-user:hunter2-pass@crm example.com/?token=tok-5678abcd#frag-1234abcd\",\"signing_secret\":\"$whsec\"},{\"name\":\"q\",\"queue\":\"${whsec}q\"},{\"name\":\"Bad+Name-secret\",\"url\":\"http://user:pass-1234@b.example/?key=key-5678abcd\",\"events\":[\"pattern-secret-value\",[\"$whsec\"]],\"unknown+secret/value\":1}]"
routes_seed leaky "$leaky_routes"
routes_seed wrong-types "[{\"name\":98765432101,\"url\":[\"$whsec\"],\"events\":\"events-secret-value\"},\"$whsec\"]"
routes_seed a-string "\"$whsec\""
routes_seed filters '[{"name":"a","url":"https://a.example","filter":{"data":{"bounce_type":"hard"}}},{"name":"b","queue":"ANALYTICS_QUEUE","filter":{"$or":[{"data":{"amount":{"$gt":"x"}}},{"$bogus":1}]}},{"name":"c","url":"https://c.example","filter":[]}]'
routes_seed internal-queue '[{"name":"a","queue":"DELIVERY_QUEUE"},{"name":"b","queue":"DEDUP"}]'

# whsec secrets: the Standard Webhooks vector, the local backend's, and bad ones.
sw_seed() { { le64 "$2"; printf '%s\n%s\n%s' "$3" "$4" "$5"; } | seed standard_webhooks "$1"; }
sw_seed spec-vector 1614265330 "$whsec" msg_p5jXN8AQM9LWM0D4loKWxJek '{"test": 2432232314}'
sw_seed dev-vars -1 "$(sed -n 's/^LOCAL_BACKEND_SIGNING_SECRET=//p' ../.dev.vars.example)" msg_1 '{}'
sw_seed padded-secret 0 "  $whsec " "" ""
sw_seed no-prefix 0 MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw msg_1 '{}'
sw_seed empty-key 0 whsec_ msg_1 '{}'
sw_seed not-base64 0 'whsec_ab c' msg_1 '{}'
sw_seed unpadded 0 whsec_bGVhZG5lc3QtbG9jYWwtYmFja2VuZC1rZXk msg_1 '{}'

# Queue messages that are not deliveries, or only just are.
delivery_seed() { printf "$2" | seed delivery "$1"; }
delivery_seed no-newline '{"route":"crm","event":"e.x","signature":"s","webhook_id":"w"}'
delivery_seed empty-body '{"route":"crm","event":"e.x","signature":"s","webhook_id":"w"}\n'
delivery_seed binary-body '{"route":"crm","event":"e.x","signature":"s","webhook_id":"w","body":[1]}\n\xff\x00\n\n'
delivery_seed escaped-header '{"route":"\\u00e9","event":"e\\n","signature":"\\"","webhook_id":"\\ud83d\\ude00"}\n{}'
delivery_seed missing-fields '{}\nbody'
delivery_seed wrong-type '{"route":1}\n'
delivery_seed array '[1]\n'

# Configurations, in the `.dev.vars`-like format of the config target.
dev_vars="$(sed "s/^\(ROUTES=\)'\(.*\)'$/\1\2/" ../.dev.vars.example)"
config_seed() { printf '%s' "$2" | seed config "$1"; }
config_seed dev-vars "$dev_vars
@DEDUP"
config_seed wrangler "WEBHOOK_SECRET=$secret
TIMESTAMP_TOLERANCE_SECONDS=300
DEDUP_TTL_SECONDS=86400
MAX_BODY_BYTES=65536
DELIVERY_RETRY_BASE_SECONDS=5
DELIVERY_TIMEOUT_SECONDS=8
DEDUP_MODE=kv
ROUTES=[]
@DEDUP
@DELIVERY_QUEUE"
config_seed readme-routes "WEBHOOK_SECRET=old, $secret
CRM_SIGNING_SECRET=$whsec
ROUTES=$readme
@DEDUP
@ANALYTICS_QUEUE"
config_seed json-numbers 'WEBHOOK_SECRET=s
TIMESTAMP_TOLERANCE_SECONDS= 60 
DEDUP_TTL_SECONDS="120"
MAX_BODY_BYTES=120000
@DEDUP'
config_seed durable 'WEBHOOK_SECRET=s
DEDUP_MODE=durable
@DEDUP_OBJECTS'
config_seed bad-mode 'WEBHOOK_SECRET=s
DEDUP_MODE=redis
@DEDUP'
config_seed bad-numbers 'WEBHOOK_SECRET=s
TIMESTAMP_TOLERANCE_SECONDS=0
DEDUP_TTL_SECONDS=59
MAX_BODY_BYTES=120001
DELIVERY_RETRY_BASE_SECONDS=five
DELIVERY_TIMEOUT_SECONDS=-1
@DEDUP'
config_seed ttl-below-tolerance 'WEBHOOK_SECRET=s
TIMESTAMP_TOLERANCE_SECONDS=600
DEDUP_TTL_SECONDS=300
@DEDUP'
config_seed leaky-secret 'WEBHOOK_SECRET=super-secret-value
CRM=whsec_not base64 super-secret-value
ROUTES=[{"name":"a","url":"https://a.example","signing_secret":"CRM"}]'
config_seed leaky-routes "WEBHOOK_SECRET=webhook-secret-value
CRM_SIGNING_SECRET=whsec_not base64 crm-secret-value
TIMESTAMP_TOLERANCE_SECONDS=tolerance-secret-value
DEDUP_MODE=mode-secret-value
ROUTES=$leaky_routes
@DEDUP"
config_seed internal-queue 'WEBHOOK_SECRET=s
ROUTES=[{"name":"a","queue":"DELIVERY_QUEUE"}]
@DEDUP
@DELIVERY_QUEUE'
config_seed nothing ''

# Filters: the filter line, then the payload. Every operator, on the fixtures.
filter_seed() { { printf '%s\n' "$2"; printf '%s' "$3"; } | seed filter "$1"; }
bounced="$(tr -d '\n' <"$fixtures/email.bounced.json")"
for file in "$fixtures"/*.json; do
  event="$(basename "$file" .json)"
  { printf '{"event":"%s","data":{"$exist":true}}\n' "$event"; cat "$file"; } | seed filter "$event"
done
filter_seed realistic '{"$and":[{"data":{"bounce_type":"hard"}},{"data":{"campaign_id":{"$startsWith":"camp_"}}},{"$not":{"data":{"list_id":"list_test"}}}]}' "$bounced"
filter_seed compare '{"data":{"amount":{"$gt":10,"$gte":42.0,"$lt":"z","$lte":1e308},"x":{"$eq":[1,{"a":null}],"$neq":{"b":[]}}}}' '{"data":{"amount":42,"x":[1,{"a":null}]}}'
filter_seed sets '{"data":{"tags":{"$in":["vip",1,null,{"a":1}]},"t":{"$nin":[[],{}]}}}' '{"data":{"tags":"vip","t":[]}}'
filter_seed affixes '{"data":{"campaign_id":{"$startsWith":"camp_","$endsWith":"789"},"e":{"$startsWith":"","$endsWith":"\u00e9"}}}' '{"data":{"campaign_id":"camp_xyz789","e":"caf\u00e9"}}'
filter_seed exist '{"data":{"a":{"$exist":true},"b":{"$exist":false}}}' '{"data":{"a":null}}'
filter_seed combinators '{"$or":[{"event":"sms.failed"},{"$and":[{"data":{"tags":"vip"}},{"$not":{"data":{"tags":["test","gold"]}}}]}],"data":{"n":{"$not":{"$in":[1,2]}}}}' '{"event":"email.bounced","data":{"tags":["vip","test"],"n":3}}'
filter_seed not-value '{"data":{"tags":{"$not":"test"},"x":{"$not":[1]}}}' '{"data":{"tags":["test"],"x":[1,2]}}'
filter_seed contains-all '{"data":{"tags":["vip","test"],"n":[]}}' '{"data":{"tags":["test","vip","x"],"n":5}}'
filter_seed empty '{}' '{}'
filter_seed not-an-object '[{"data":1}]' '[1]'
filter_seed no-payload '{"data":{"$exist":false}}' ''
filter_seed bad-operands '{"a":{"$gt":{}},"b":{"$in":3},"c":{"$startsWith":1},"d":{"$exist":"yes"},"$and":[],"$or":{},"e":{"$regex":"a.*"}}' '{}'
filter_seed odd-keys '{"\u00e9t\u00e9":{"\ud83d\ude00":1},"":{"":""},"a/b~c":{"$exist":true},"whsec_secret value!":{"$bogus":1}}' '{"\u00e9t\u00e9":{"\ud83d\ude00":1},"":{"":""},"a/b~c":0}'
# Nesting at the bound, one past it, and far past it.
nest() { local f="$2" i; for ((i = 0; i < $1; i++)); do f="{\"$3\":$f}"; done; printf '%s' "$f"; }
nest_list() { local f="$2" i; for ((i = 0; i < $1; i++)); do f="{\"$3\":[$f]}"; done; printf '%s' "$f"; }
filter_seed depth-at-bound "$(nest 16 '{"x":1}' a)" "$(nest 16 '{"x":1}' a)"
filter_seed depth-past-bound "$(nest 17 '{"x":1}' a)" "$(nest 17 '{"x":1}' a)"
filter_seed depth-not "$(nest 16 '{"x":1}' '$not')" '{"x":2}'
filter_seed depth-not-far "$(nest 200 '{"x":1}' '$not')" '{"x":1}'
filter_seed depth-and "$(nest_list 16 '{"x":1}' '$and')" '{"x":1}'
filter_seed depth-or-past "$(nest_list 17 '{"x":1}' '$or')" '{"x":1}'
filter_seed depth-value-operand "{\"x\":{\"\$eq\":$(nest 100 1 a)}}" "{\"x\":$(nest 100 1 a)}"
# Hostile payloads: deep arrays (at serde_json's limit and past it), huge and
# tiny numbers, non-ASCII and escaped keys, duplicate keys.
arrays() { printf '%*s' "$1" '' | tr ' ' '['; printf '%s' "$2"; printf '%*s' "$1" '' | tr ' ' ']'; }
filter_seed deep-array '{"data":{"$exist":true},"d":[1]}' "{\"data\":1,\"d\":$(arrays 120 1)}"
filter_seed deeper-array '{"d":{"$exist":true}}' "{\"d\":$(arrays 200 1)}"
filter_seed deep-array-contains '{"d":[[[[1]]]]}' "{\"d\":[$(arrays 4 1),$(arrays 100 1)]}"
filter_seed huge-numbers '{"n":{"$gt":1.7976931348623157e308},"m":{"$lt":-1e308},"u":18446744073709551615,"i":{"$gte":-9223372036854775808}}' '{"n":1e308,"m":-1.7976931348623157e308,"u":18446744073709551615,"i":-9223372036854775808,"z":-0}'
filter_seed overflowing-numbers '{"n":{"$gt":1e400}}' '{"n":1e400}'
filter_seed number-kinds '{"a":1,"b":{"$eq":1.0},"c":{"$in":[0]},"d":{"$lte":-0.0}}' '{"a":1.0,"b":1,"c":-0,"d":0}'
filter_seed non-ascii '{"donn\u00e9es":{"\u540d\u524d":{"$startsWith":"\u00e9"}},"\u0000":{"$endsWith":"\ud83d\ude00"}}' '{"donn\u00e9es":{"\u540d\u524d":"\u00e9t\u00e9"},"\u0000":"x\ud83d\ude00"}'
filter_seed raw-utf8 '{"clé":{"$in":["é","日本"]}}' '{"clé":"日本","\u00e9":1}'
filter_seed duplicate-keys '{"a":1,"a":{"$exist":false}}' '{"a":1,"a":2}'
filter_seed lone-surrogate '{"a":"\ud800"}' '{"a":"\udfff"}'
filter_seed not-json-payload '{"a":1}' '{"a":1'

# Answers echoing the signatures sent: the signature line, then the answer's text.
scrub_seed() { printf '%s\n%s' "$2" "$3" | seed scrub "$1"; }
b64=g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= # the Standard Webhooks vector's
escaped="${b64//\//\\u002F}"
scrub_seed json-escaped "v1,$b64" "{\"sig\":\"v1,${b64//\//\\/}\",\"u\":\"${escaped//+/\\u002b}\"}"
scrub_seed upper-case "sha256=$sig" "{\"echo\":\"SHA256=${sig^^}\"}"
scrub_seed cut-body "$sig" "$(printf 'x%.0s' {1..2000})${sig:0:48}"
scrub_seed non-ascii "v1,$b64" "é${b64}日本${b64:0:20}"
scrub_seed overlapping "$(printf 'ab%.0s' {1..32})" "$(printf 'AbaB%.0s' {1..40})"
