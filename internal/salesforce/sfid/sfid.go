// Package sfid is the Salesforce record id: its 15- and 18-character forms, the 18-character form's
// checksum, and how two ids are compared. It imports nothing but the standard library, so the
// controllers and the decision packages use it without the Salesforce client behind internal/engine.
package sfid

import (
	"fmt"
	"strings"
)

// ID is a Salesforce record id as a record or a spec holds it: 15 characters (case-sensitive) or 18
// (the 15 and a suffix that encodes their case, so that the id survives case-insensitive tools). The
// 15 and 18 forms of one record are Equal. An ID from a conversion is not checked; Parse checks one.
type ID string

// base62 are the characters of an id.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// suffixAlphabet encodes the upper-case bits of one five-character chunk as one character.
const suffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

// Parse checks that s is a Salesforce id: 15 or 18 base-62 characters, and for 18 a suffix that
// matches the case of the first 15.
func Parse(s string) (ID, error) {
	if len(s) != 15 && len(s) != 18 {
		return "", fmt.Errorf("salesforce id %q has %d characters, want 15 or 18", s, len(s))
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune(base62, r) }); i >= 0 {
		return "", fmt.Errorf("salesforce id %q has %q at position %d, want only letters and digits", s, s[i], i+1)
	}
	if len(s) == 18 {
		if want := suffix(s[:15]); s[15:] != want {
			return "", fmt.Errorf("salesforce id %q ends in %s, but the case of its first 15 characters makes %s", s, s[15:], want)
		}
	}
	return ID(s), nil
}

// Key15 is the case-sensitive 15-character form, by which ids are compared and records keyed: the
// first 15 characters, or the whole of a shorter id.
func (id ID) Key15() string {
	if len(id) > 15 {
		return string(id[:15])
	}
	return string(id)
}

// To18 is the 18-character form: the 15-character form and the suffix its case makes. An id whose
// 15-character form is not 15 base-62 characters comes back unchanged.
func (id ID) To18() string {
	k := id.Key15()
	if len(k) != 15 || strings.ContainsFunc(k, func(r rune) bool { return !strings.ContainsRune(base62, r) }) {
		return string(id)
	}
	return k + suffix(k)
}

// Equal reports whether id and other name the same record: their 15-character forms are the same,
// case included.
func (id ID) Equal(other ID) bool { return id.Key15() == other.Key15() }

// Key15 is ID(id).Key15(), for ids held as strings (records and specs hold them so).
func Key15(id string) string { return ID(id).Key15() }

// To18 is ID(id).To18(), for ids held as strings.
func To18(id string) string { return ID(id).To18() }

// Same reports whether two ids held as strings name the same record (ID.Equal).
func Same(a, b string) bool { return ID(a).Equal(ID(b)) }

// suffix is the three characters that make a 15-character id 18: one for each five-character chunk,
// whose bits say which of the five are upper-case letters, the first character the lowest bit.
func suffix(id15 string) string {
	var b [3]byte
	for chunk := range 3 {
		bits := 0
		for j := range 5 {
			if c := id15[chunk*5+j]; c >= 'A' && c <= 'Z' {
				bits |= 1 << j
			}
		}
		b[chunk] = suffixAlphabet[bits]
	}
	return string(b[:])
}
