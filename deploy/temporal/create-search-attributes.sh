#!/bin/sh
# Registers ITR's custom search attributes in a Temporal namespace; safe to run again.
#
# Input (environment): TEMPORAL_ADDRESS (host:port), NAMESPACE (default "default"),
# ITR_SEARCH_ATTRIBUTES ("Name=Type ..."; must match workflows/search_attributes.py, a test
# checks docker-compose.yml). Run by the one-shot admin-tools service of docker-compose.yml.
set -eu
: "${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS}"
: "${ITR_SEARCH_ATTRIBUTES:?set ITR_SEARCH_ATTRIBUTES}"
NAMESPACE="${NAMESPACE:-default}"
ATTEMPTS="${ATTEMPTS:-60}"

# auto-setup reports healthy before it has created the default namespace.
tries=0
until temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge "$ATTEMPTS" ]; then
        echo "namespace $NAMESPACE not available at $TEMPORAL_ADDRESS" >&2
        exit 1
    fi
    sleep 2
done

existing="$(temporal operator search-attribute list --namespace "$NAMESPACE")"
for attribute in $ITR_SEARCH_ATTRIBUTES; do
    name="${attribute%%=*}"
    type="${attribute#*=}"
    if printf '%s\n' "$existing" | grep -qw -- "$name"; then
        echo "search attribute $name exists"
    else
        temporal operator search-attribute create --namespace "$NAMESPACE" \
            --name "$name" --type "$type"
        echo "search attribute $name ($type) created"
    fi
done
