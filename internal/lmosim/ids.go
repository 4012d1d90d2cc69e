package lmosim

import (
	"strings"

	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Key prefixes of the record ids lmosim hands out, as Salesforce uses them for these objects in a
// typical LMO (custom objects get org-specific prefixes; these stay stable for tests).
const (
	prefixOrg          = "00D"
	prefixUser         = "005"
	prefixLead         = "00Q"
	prefixLicense      = "a0N"
	prefixPackage      = "a0P"
	prefixVersion      = "a0V"
	prefixParam        = "a0F"
	prefixBoolValue    = "a0B"
	prefixIntegerValue = "a0I"
	prefixDateValue    = "a0D"
	prefixHistory      = "017"
	prefixCursor       = "01g"
)

// to18 returns the 18-character form of a 15-character id; other strings, 18-character ids among
// them whatever their suffix, come back as they are for the caller's validation to judge.
func to18(id string) string {
	if len(id) == 15 {
		return sfid.To18(id)
	}
	return id
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return false
		}
	}
	return true
}

// validID reports whether s looks like an 18-character Salesforce id with the given prefix
// (any prefix when prefix is empty).
func validID(s, prefix string) bool {
	if len(s) != 18 || !isAlnum(s) {
		return false
	}
	return prefix == "" || strings.HasPrefix(s, prefix)
}

// makeID builds an 18-character id from a prefix and a sequence number.
func makeID(prefix string, seq uint64) string {
	var body [12]byte
	for i := 11; i >= 0; i-- {
		body[i] = base62[seq%62]
		seq /= 62
	}
	return sfid.To18(prefix + string(body[:]))
}
