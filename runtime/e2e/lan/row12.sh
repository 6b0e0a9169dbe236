# shellcheck shell=bash

# Row 12: the OS's own fetches, as its console reports them (make_net_initramfs), against
# the bundle, the proxy's and the origin's logs.
manifest_field() { # out-dir route field → that field of the route's manifest entry ("" if none)
  python3 -c 'import json,sys; print((json.load(open(sys.argv[1]+"/manifest.json"))["routes"].get(sys.argv[2]) or {}).get(sys.argv[3], ""))' "$1" "$2" "$3"
}
prov_lines() { tr -d '\r' <"$LOGS/$1.serial" | grep -a '^NETBOOT-E2E: \(fetched\|optional\|fetch failed\) ' || true; }
# check_prov_file row guest name content-type: the guest fetched its file NAME from the Pi,
# the bundle's object for that route, with CONTENT-TYPE, from its own set. PROV_SET_OF: the
# set's hex ("" if not found).
check_prov_file() {
  local row=$1 g=$2 name=$3 want_ct=$4 line url route set hex sha ct mct
  PROV_SET_OF=""
  line=$(prov_lines "$g" | grep -E "^NETBOOT-E2E: fetched $PROXY_HTTP/files/[0-9a-f]+/$name " | head -n1 || true)
  if [ -z "$line" ]; then
    fail "$row" "$g fetched no $PROXY_HTTP/files/<set>/$name (its console: $(prov_lines "$g" | grep -F "/$name" | head -n1))"; return
  fi
  url=$(awk '{print $3}' <<<"$line") route=${url#"$PROXY_HTTP"/}
  set=${route#files/} set=${set%/*}
  sha=$(grep -o ' sha256=[0-9a-f]*' <<<"$line" | cut -d= -f2)
  ct=${line##* type=}
  if ! hex=$(manifest_object "$WORK/out" "$route" 2>/dev/null); then
    fail "$row" "$g fetched $url, but the bundle has no route $route"; return
  fi
  PROV_SET_OF=$set
  if [ "$sha" = "$hex" ]; then pass "$row" "$g fetched $name through the Pi: sha256 $sha, as the bundle's route $route ($(grep -o 'bytes=[0-9]*' <<<"$line"))"
  else fail "$row" "$g fetched $url: sha256 $sha, the bundle's route $route is $hex"; fi
  proxy_http "$row" "$g" "$route" "$hex" "the proxy served $g's $name"
  mct=$(manifest_field "$WORK/out" "$route" content_type)
  if [ "$ct" = "$want_ct" ] && [ "$mct" = "$want_ct" ]; then pass "$row" "$g saw Content-Type $ct for $name (the manifest's content_type too)"
  else fail "$row" "$name for $g: Content-Type $ct on the guest, $mct in the manifest, expected $want_ct"; fi
  if grep -qF -- "$g" "$WORK/out/objects/sha256/$hex" && grep -q ' own=yes ' <<<"$line"; then
    pass "$row" "$g's $name is its own: it names $g (objects/sha256/${hex:0:16}…, and the guest found its name in it)"
  else fail "$row" "$g's $name (objects/sha256/$hex) does not name $g, or the guest did not find its name in it ($line)"; fi
  check_serve "$row" serve.log "$route" "the origin served $g's $name to the proxy over mTLS"
}
# prov_content row guest name python-check what: the bundle's object for the guest's file
# NAME passes CHECK (python: `text` is the file, `g` the machine; raises or is false to fail).
prov_content() {
  local row=$1 g=$2 name=$3 route hex out
  route=$(prov_lines "$g" | grep -oE "^NETBOOT-E2E: fetched $PROXY_HTTP/files/[0-9a-f]+/$name " | awk '{print $3}' | head -n1 || true)
  route=${route#"$PROXY_HTTP"/}
  hex=$(manifest_object "$WORK/out" "$route" 2>/dev/null) || { fail "$row" "$5: no route for $g's $name"; return; }
  if out=$(python3 - "$WORK/out/objects/sha256/$hex" "$g" "$4" <<'EOF' 2>&1
import json, sys
text = open(sys.argv[1]).read(); g = sys.argv[2]
try:
    import yaml
except ImportError:
    yaml = None
ok = eval(sys.argv[3])
if not ok:
    sys.exit("check is false")
EOF
  ); then pass "$row" "$5"; else fail "$row" "$5: $(tail -n1 <<<"$out") (objects/sha256/$hex)"; fi
}
check_row_12() {
  say "row 12: the OS fetches its own provisioning files through the proxy"
  INITRD_PROV=$(sha "$IMAGES/initrd-prov-x86_64.cpio.gz")
  declare -A PROV_SET=()
  for g in r12-prov-ignition r12-prov-nocloud; do
    check_linux_via_proxy 12 $g "$KERNEL_X64" "$INITRD_PROV" x86_64 "prov-${g#r12-prov-}"
    line=$(tr -d '\r' <"$LOGS/$g.serial" | grep -a '^NETBOOT-E2E: modules loaded: ' | head -n1 || true)
    if [[ "$line" == *" virtio_net "* ]]; then pass 12 "$g: the OS loaded the virtio NIC modules of its kernel's package (${line#NETBOOT-E2E: })"
    else fail 12 "$g: the OS did not load virtio_net (${line:-no \"modules loaded\" line})"; fi
    lease=$(tr -d '\r' <"$LOGS/$g.serial" | grep -a '^NETBOOT-E2E: lease ' | head -n1 | awk '{print $3}' || true)
    if [ -n "$lease" ] && grep -qE "^($(guest_ips $g))/" <<<"$lease"; then
      pass 12 "$g: the OS got the lease $lease on eth0 (busybox udhcpc), its MAC's fixed address"
    else fail 12 "$g: the OS's lease '${lease:-none}' is not the router's address for its MAC ($(guest_ips $g))"; fi
    if prov_lines $g | grep -q '^NETBOOT-E2E: fetch failed '; then fail 12 "$g: a required fetch failed: $(prov_lines $g | grep '^NETBOOT-E2E: fetch failed ' | head -n1)"; fi
    check_simulation 12 $g
  done
  g=r12-prov-ignition
  check_serial 12 $g "ignition.config.url=$PROXY_HTTP/files/" "the command line names the Ignition config on the Pi (files.ignition.url)"
  check_prov_file 12 $g ignition application/vnd.coreos.ignition+json; PROV_SET[$g]=$PROV_SET_OF
  prov_content 12 $g ignition '(c := json.loads(text))["ignition"]["version"] == "3.4.0" and any(f["path"] == "/etc/hostname" and g in f["contents"]["source"] for f in c["storage"]["files"]) and c["passwd"]["users"][0]["sshAuthorizedKeys"][0].startswith("ssh-ed25519 ")' \
    "$g's ignition is an Ignition 3.4.0 config: /etc/hostname = $g, a user with an ssh key"
  g=r12-prov-nocloud
  check_serial 12 $g "ds=nocloud;s=$PROXY_HTTP/files/" "the command line names the NoCloud seed on the Pi (files_url)"
  check_prov_file 12 $g meta-data application/yaml; PROV_SET[$g]=$PROV_SET_OF
  check_prov_file 12 $g user-data text/cloud-config; set2=$PROV_SET_OF
  if [ -n "${PROV_SET[$g]}" ] && [ "${PROV_SET[$g]}" = "$set2" ]; then pass 12 "$g's meta-data and user-data share one set: files/${set2:0:16}…/"
  else fail 12 "$g's meta-data and user-data are in sets '${PROV_SET[$g]}' and '$set2'"; fi
  prov_content 12 $g meta-data 'yaml.safe_load(text)["instance-id"] == g if yaml else ("instance-id: " + g + "\n") in text' \
    "$g's meta-data is a YAML mapping with instance-id: $g"
  prov_content 12 $g user-data 'text.split("\n", 1)[0] == "#cloud-config" and (yaml.safe_load(text)["hostname"] == g if yaml else ("hostname: " + g + "\n") in text)' \
    "$g's user-data starts with #cloud-config and sets hostname: $g"
  # NoCloud also asks for vendor-data and network-config; none is declared: 404, and the
  # boot goes on.
  set=${PROV_SET[$g]} n404=0
  for name in network-config vendor-data; do
    if prov_lines $g | grep -qF "NETBOOT-E2E: optional $PROXY_HTTP/files/$set/$name status=404 (not required)" &&
      access_lines $g | grep -F "path=/files/$set/$name " | grep -q 'status=404'; then
      pass 12 "$g's optional $name (not declared): 404 on its console and in proxy.log"; n404=$((n404 + 1))
    else fail 12 "$g's optional $name: no 404 on its console and in proxy.log ($(prov_lines $g | grep -F "/$name" | head -n1 || true))"; fi
  done
  if [ $n404 = 2 ] && [ "$(result $g | cut -d' ' -f1)" = ok ]; then pass 12 "$g went on after the 404s to \"$PROV_MARK\""
  elif [ $n404 = 2 ]; then fail 12 "$g did not reach \"$PROV_MARK\" after the 404s"; fi
  # The sets are per machine and not named after it.
  if [ -n "${PROV_SET[r12-prov-ignition]}" ] && [ -n "$set" ] && [ "${PROV_SET[r12-prov-ignition]}" != "$set" ]; then
    pass 12 "the two machines' files are in different sets (${PROV_SET[r12-prov-ignition]:0:12}…, ${set:0:12}…)"
  else fail 12 "the machines' sets: '${PROV_SET[r12-prov-ignition]}' and '$set'"; fi
  for g in r12-prov-ignition r12-prov-nocloud; do
    n=$([ $g = r12-prov-ignition ] && echo ignition || echo user-data)
    code=$(in_ns "$NS_PI" curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$PROXY_HTTP/files/$g/$n" || true)
    if [ "$code" = 404 ]; then pass 12 "$PROXY_HTTP/files/$g/$n (a set named after the machine): 404"
    else fail 12 "$PROXY_HTTP/files/$g/$n answered $code, expected 404"; fi
  done
}
