package salesforce

import "testing"

func TestUserIDOfReadsTheIdentityURLsLastSegment(t *testing.T) {
	for in, want := range map[string]string{
		"https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA": "005000000000001AAA",
		"https://acme.my.salesforce.com/id/00D000000000001/005000000000001":     "005000000000001",
		"https://login.salesforce.com/id/00D000000000001AAA/":                   "",
		"https://login.salesforce.com/id/00D000000000001AAA/001000000000001AAA": "",
		"":              "",
		"%zz not a url": "",
	} {
		if got := userIDOf(in); got != want {
			t.Errorf("userIDOf(%q) = %q, want %q", in, got, want)
		}
	}
}
