# shellcheck shell=bash
# azure-identity.sh - run-time credentials for the Azure Batch task scripts,
# fetched with the pool's user-assigned managed identity (sourced, not run).
#
# No secret is ever part of a request body that submit.sh sends: the job,
# schedule and task JSON name the Key Vault and the identity, and the task
# fetches the secret itself when it runs.
#
#   az_private_dir          make the private (0700) directory AZW for tokens and
#                           secrets, under AZ_BATCH_TASK_DIR (or TMPDIR);
#                           az_cleanup removes it (call it from an EXIT trap)
#   az_auth_header RESOURCE ask the instance metadata service for a Microsoft
#                           Entra token for RESOURCE and write it as an
#                           'Authorization: Bearer' header to a mode 0600 file in
#                           AZW; prints that file's path (curl -H @FILE)
#   az_kv_secret NAME       print the current value of secret NAME of the Key
#                           Vault FINSIM_KEYVAULT (capture it: v=$(az_kv_secret N))
#
# Environment: FINSIM_KEYVAULT (vault name), FINSIM_IDENTITY_CLIENT_ID (client
# id of the pool identity; optional when the pool has only one), and, to point
# them at a local rehearsal, FINSIM_IMDS_URL and FINSIM_KEYVAULT_URL (default
# http://169.254.169.254/metadata/identity/oauth2/token and
# https://FINSIM_KEYVAULT.vault.azure.net).
# Tokens and secrets never reach a command line (curl reads the header from a
# file, the body goes to a file) and these functions never print them, except
# az_kv_secret's value on its standard output. Errors: a message on stderr
# (no response body: it may echo what was asked) and status 1.

az_err() { echo "${PROG:-azure-identity.sh}: error: $*" >&2; return 1; }

az_private_dir() {
    local base=${AZ_BATCH_TASK_DIR:-${TMPDIR:-/tmp}}
    AZW=$(umask 077 && mktemp -d "$base/.finsim-az.XXXXXX") || az_err "cannot make a private directory under $base"
}
az_cleanup() { [ -z "${AZW:-}" ] || rm -rf "$AZW"; AZW=; }

# az_json_str FIELD FILE: the JSON string value of the first FIELD in FILE,
# unescaped (\uXXXX is refused: no value this needs holds one)
az_json_str() {
    local v out='' c
    # inside a JSON string every '"' is escaped, so '"FIELD":' is a key
    v=$(tr -d '\r\n' < "$2" | sed -n 's/.*"'"$1"'"[[:space:]]*:[[:space:]]*"\(\([^"\\]\|\\.\)*\)".*/\1/p')
    [ -n "$v" ] || return 1
    while [[ $v == *\\* ]]; do
        out+=${v%%\\*}; v=${v#*\\}; c=${v:0:1}; v=${v:1}
        case $c in
            n) out+=$'\n' ;; t) out+=$'\t' ;; r) out+=$'\r' ;; b) out+=$'\b' ;; f) out+=$'\f' ;;
            '"'|\\|/) out+=$c ;;
            *) return 1 ;;
        esac
    done
    printf '%s' "$out$v"
}

az_auth_header() {
    local resource=$1 imds=${FINSIM_IMDS_URL:-http://169.254.169.254/metadata/identity/oauth2/token}
    local query code token hdr
    [ -n "${AZW:-}" ] || { az_err "az_private_dir was not called"; return 1; }
    query="api-version=2018-02-01&resource=$(printf '%s' "$resource" | sed 's/:/%3A/g; s#/#%2F#g')"
    [ -z "${FINSIM_IDENTITY_CLIENT_ID:-}" ] || query+="&client_id=$FINSIM_IDENTITY_CLIENT_ID"
    code=$(curl -sS -o "$AZW/token.json" -w '%{http_code}' --retry 5 --retry-delay 2 -H 'Metadata: true' "$imds?$query") ||
        { rm -f "$AZW/token.json"; az_err "instance metadata service unreachable ($imds)"; return 1; }
    token=$(az_json_str access_token "$AZW/token.json") || token=
    rm -f "$AZW/token.json"
    [ "$code" = 200 ] || { az_err "no token for $resource from the managed identity (HTTP $code): does the pool have the identity (FINSIM_IDENTITY_CLIENT_ID)?"; return 1; }
    [ -n "$token" ] || { az_err "the metadata service answered without an access_token"; return 1; }
    hdr=$AZW/auth-$RANDOM$RANDOM.hdr
    (umask 077 && printf 'Authorization: Bearer %s\n' "$token" > "$hdr")
    printf '%s\n' "$hdr"
}

az_kv_secret() {
    local name=$1 vault hdr code value
    [ -n "${FINSIM_KEYVAULT:-}" ] || { az_err "FINSIM_KEYVAULT is not set (the Key Vault holding secret '$name')"; return 1; }
    vault=${FINSIM_KEYVAULT_URL:-https://$FINSIM_KEYVAULT.vault.azure.net}
    hdr=$(az_auth_header https://vault.azure.net) || return 1
    code=$(curl -sS -o "$AZW/secret.json" -w '%{http_code}' --retry 3 -H @"$hdr" \
        "${vault%/}/secrets/$name?api-version=7.4") || code=unreachable
    rm -f "$hdr"
    value=$(az_json_str value "$AZW/secret.json" 2>/dev/null) || value=
    rm -f "$AZW/secret.json"
    case $code in
        200) ;;
        401|403) az_err "Key Vault $FINSIM_KEYVAULT refused secret '$name' (HTTP $code): give the pool identity the role Key Vault Secrets User"; return 1 ;;
        404) az_err "Key Vault $FINSIM_KEYVAULT has no secret '$name'"; return 1 ;;
        *) az_err "reading secret '$name' from Key Vault $FINSIM_KEYVAULT failed (HTTP $code)"; return 1 ;;
    esac
    [ -n "$value" ] || { az_err "secret '$name' in Key Vault $FINSIM_KEYVAULT is empty or not readable"; return 1; }
    printf '%s' "$value"
}

# az_redis_password: when FINSIM_KEYVAULT is set and no password is in the
# environment, read Key Vault secret finsim-redis-password with the pool
# identity and export it as FINSIM_REDIS_PASSWORD (held in memory only: the
# private directory is removed at once). Sets AZ_PW_FROM to where it came from.
az_redis_password() {
    AZ_PW_FROM=environment
    [ -z "${FINSIM_REDIS_PASSWORD:-}" ] && [ -n "${FINSIM_KEYVAULT:-}" ] || return 0
    az_private_dir || return 1
    FINSIM_REDIS_PASSWORD=$(az_kv_secret finsim-redis-password) || { az_cleanup; return 1; }
    az_cleanup
    export FINSIM_REDIS_PASSWORD
    AZ_PW_FROM="Key Vault $FINSIM_KEYVAULT"
}
