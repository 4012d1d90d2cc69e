package testenv

import (
	"strconv"
	"strings"
)

// The Acme ISV LMO that the suites seed lmosim with: its package, and the API clients of the
// operator and of Dana Admin, a person editing through the REST API.
const (
	PackageID        = "033000000000001AAA"
	OperatorClientID = "lmo-operator"
	OperatorSecret   = "dev-secret-change-me"
	// OperatorUser is the name lmosim gives the operator's client in history rows and LastModifiedBy.
	OperatorUser  = "Integration User"
	AdminClientID = "lmo-admin"
	AdminSecret   = "admin-secret"
)

// Feature parameters of the Acme package, as seed YAML items.
const (
	MaxProjects       = "{fullName: acme__MaxProjects, dataType: Integer, direction: LMO to Subscriber}"
	AdvancedReporting = "{fullName: acme__AdvancedReporting, dataType: Boolean, direction: LMO to Subscriber}"
	Beta              = "{fullName: acme__Beta, dataType: Boolean, direction: LMO to Subscriber}"
	ActiveUsers       = "{fullName: acme__ActiveUsers, dataType: Integer, direction: Subscriber to LMO}"
)

// Seed is the Acme ISV LMO with one package; the zero value of a field takes the default named.
type Seed struct {
	APIDailyLimit int // 100000
	// OperatorSecret is the operator's client secret (OperatorSecret); OperatorCertificate, a PEM
	// certificate, lets it sign in with a JWT too.
	OperatorSecret      string
	OperatorCertificate string
	AdminSecret         string // AdminSecret
	AdminUsername       string // dana.admin@acme.example
	PackageName         string // Acme Projects
	// FeatureParameters are the package's (MaxProjects, AdvancedReporting, ActiveUsers).
	FeatureParameters []string
	// Licenses are the records, YAML list items (each "  - {…}" on a line of its own).
	Licenses string
}

// YAML is the seed as lmosim reads it, ending with the licenses.
func (s Seed) YAML() string {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	limit := s.APIDailyLimit
	if limit == 0 {
		limit = 100000
	}
	params := s.FeatureParameters
	if params == nil {
		params = []string{MaxProjects, AdvancedReporting, ActiveUsers}
	}
	cert := ""
	if s.OperatorCertificate != "" {
		cert = ", certificate: " + strconv.Quote(s.OperatorCertificate)
	}
	var b strings.Builder
	b.WriteString("organization: {id: 00D000000000001AAA, name: Acme ISV, edition: Enterprise Edition, isSandbox: false}\n")
	b.WriteString("apiDailyLimit: " + strconv.Itoa(limit) + "\n")
	b.WriteString("clients:\n")
	b.WriteString("  - {clientID: " + OperatorClientID + ", clientSecret: " + def(s.OperatorSecret, OperatorSecret) +
		", username: integration@acme.example, name: " + OperatorUser + cert + "}\n")
	b.WriteString("  - {clientID: " + AdminClientID + ", clientSecret: " + def(s.AdminSecret, AdminSecret) +
		", username: " + def(s.AdminUsername, "dana.admin@acme.example") + ", name: Dana Admin}\n")
	b.WriteString("packages:\n")
	b.WriteString("  - packageID: " + PackageID + "\n")
	b.WriteString("    name: " + def(s.PackageName, "Acme Projects") + "\n")
	b.WriteString("    latestVersion: \"1.4.0\"\n")
	b.WriteString("    defaults: {status: Trial, trialDays: 30, seats: 10}\n")
	b.WriteString("    featureParameters:\n")
	for _, p := range params {
		b.WriteString("      - " + p + "\n")
	}
	b.WriteString("licenses:\n")
	b.WriteString(strings.TrimLeft(s.Licenses, "\n"))
	return b.String()
}
