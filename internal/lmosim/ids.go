package lmosim

import "strings"

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

// idSuffix computes the three-character case-safe suffix that turns a 15-character Salesforce id
// into its 18-character form: each block of five characters contributes one character whose bits
// say which of the five are upper-case letters.
func idSuffix(id15 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	var b [3]byte
	for block := 0; block < 3; block++ {
		n := 0
		for i := 0; i < 5; i++ {
			c := id15[block*5+i]
			if c >= 'A' && c <= 'Z' {
				n |= 1 << i
			}
		}
		b[block] = alphabet[n]
	}
	return string(b[:])
}

// to18 returns the 18-character form of a 15- or 18-character id; other strings come back as is.
func to18(id string) string {
	if len(id) == 15 && isAlnum(id) {
		return id + idSuffix(id)
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
	id15 := prefix + string(body[:])
	return id15 + idSuffix(id15)
}
