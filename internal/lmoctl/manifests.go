package lmoctl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
)

// manifest is a License or ManagedPackage read from a file.
type manifest struct {
	// file and doc (1-based) locate it for error messages.
	file string
	doc  int
}

func (m manifest) where() string {
	if m.doc > 1 {
		return fmt.Sprintf("%s (document %d)", m.file, m.doc)
	}
	return m.file
}

// fileLicense is a License and where it came from.
type fileLicense struct {
	manifest
	licensingv1alpha1.License
}

// filePackage is a ManagedPackage and where it came from.
type filePackage struct {
	manifest
	licensingv1alpha1.ManagedPackage
}

// manifests are the objects of a directory that plan reads.
type manifests struct {
	licenses []fileLicense
	// packages by namespace/name.
	packages map[string]filePackage
}

// readManifests reads every .yaml, .yml and .json file under dir (multi-document files allowed),
// keeps Licenses and ManagedPackages of the licensing group and checks them like admission does.
// Errors name the file and the field.
func readManifests(dir string) (*manifests, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("-f: %w", err)
	}
	var files []string
	if !st.IsDir() {
		files = []string{dir}
	} else {
		err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != dir {
				return filepath.SkipDir
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".yaml", ".yml", ".json":
				if !d.IsDir() {
					files = append(files, path)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("-f %s: %w", dir, err)
		}
	}
	sort.Strings(files)
	m := &manifests{packages: map[string]filePackage{}}
	var errs []error
	for _, f := range files {
		if err := m.readFile(f); err != nil {
			errs = append(errs, err)
		}
	}
	seen := map[string]string{}
	for _, l := range m.licenses {
		key := l.Namespace + "/" + l.Name
		if prev, ok := seen[key]; ok {
			errs = append(errs, fmt.Errorf("%s: License %s is also defined in %s", l.where(), l.Name, prev))
		}
		seen[key] = l.where()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.SliceStable(m.licenses, func(i, j int) bool {
		a, b := m.licenses[i], m.licenses[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return m, nil
}

func (m *manifests) readFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var errs []error
	for n := 1; ; n++ {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		if err := m.readDoc(manifest{file: path, doc: n}, doc); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *manifests) readDoc(at manifest, doc []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return fmt.Errorf("%s: not YAML: %w", at.where(), err)
	}
	if !strings.HasPrefix(head.APIVersion, licensingv1alpha1.GroupVersion.Group+"/") {
		return nil
	}
	if head.APIVersion != apiVersion && (head.Kind == "License" || head.Kind == "ManagedPackage") {
		return fmt.Errorf("%s: apiVersion %s: lmoctl reads %s", at.where(), head.APIVersion, apiVersion)
	}
	switch head.Kind {
	case "License":
		var l licensingv1alpha1.License
		if err := decodeStrict(doc, &l.ObjectMeta, &l.Spec); err != nil {
			return fmt.Errorf("%s: License %s: %w", at.where(), l.Name, err)
		}
		if err := validateLicense(&l); err != nil {
			return fmt.Errorf("%s: License %s: %w", at.where(), l.Name, err)
		}
		m.licenses = append(m.licenses, fileLicense{at, l})
	case "ManagedPackage":
		var p licensingv1alpha1.ManagedPackage
		if err := decodeStrict(doc, &p.ObjectMeta, &p.Spec); err != nil {
			return fmt.Errorf("%s: ManagedPackage %s: %w", at.where(), p.Name, err)
		}
		switch {
		case p.Name == "":
			return fmt.Errorf("%s: ManagedPackage: metadata.name is required", at.where())
		case !packageIDPattern.MatchString(p.Spec.PackageID):
			return fmt.Errorf("%s: ManagedPackage %s: spec.packageID %q: want a 033 id of 15 or 18 characters", at.where(), p.Name, p.Spec.PackageID)
		}
		key := p.Namespace + "/" + p.Name
		if prev, ok := m.packages[key]; ok {
			return fmt.Errorf("%s: ManagedPackage %s is also defined in %s", at.where(), p.Name, prev.where())
		}
		m.packages[key] = filePackage{at, p}
	}
	return nil
}

// decodeStrict decodes a document's metadata and spec, refusing unknown fields, and names the part
// (metadata, spec) an error is in. status is ignored: plan compares specs.
func decodeStrict(doc []byte, meta, spec any) error {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	var parts struct {
		APIVersion string          `json:"apiVersion"`
		Kind       string          `json:"kind"`
		Metadata   json.RawMessage `json:"metadata"`
		Spec       json.RawMessage `json:"spec"`
		Status     json.RawMessage `json:"status"`
	}
	if err := strictJSON(js, &parts); err != nil {
		return err
	}
	if len(parts.Metadata) == 0 {
		return errors.New("metadata is required")
	}
	if err := strictJSON(parts.Metadata, meta); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if len(parts.Spec) == 0 {
		return errors.New("spec is required")
	}
	if err := strictJSON(parts.Spec, spec); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	return nil
}

func strictJSON(data []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return fmt.Errorf("%s: got a %s, want %s", typeErr.Field, typeErr.Value, typeErr.Type)
		}
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

var (
	subscriberPattern = regexp.MustCompile(`^00D[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$`)
	licenseIDPattern  = regexp.MustCompile(`^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$`)
	paramNamePattern  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// validateLicense checks what the CRD's admission rules check (and a calendar date), naming the
// field, so plan refuses what kubectl apply would.
func validateLicense(l *licensingv1alpha1.License) error {
	s := l.Spec
	switch {
	case l.Name == "":
		return errors.New("metadata.name is required")
	case s.PackageRef.Name == "":
		return errors.New("spec.packageRef.name is required")
	case (s.SubscriberOrgID == "") == (s.LicenseID == ""):
		return errors.New("spec: exactly one of subscriberOrgID and licenseID must be set")
	case s.SubscriberOrgID != "" && !subscriberPattern.MatchString(s.SubscriberOrgID):
		return fmt.Errorf("spec.subscriberOrgID %q: want an org id 00D… of 15 or 18 characters", s.SubscriberOrgID)
	case s.LicenseID != "" && !licenseIDPattern.MatchString(s.LicenseID):
		return fmt.Errorf("spec.licenseID %q: want a record id of 15 or 18 characters", s.LicenseID)
	}
	switch s.Status {
	case "", licensingv1alpha1.LicenseStatusTrial, licensingv1alpha1.LicenseStatusActive, licensingv1alpha1.LicenseStatusSuspended:
	default:
		return fmt.Errorf("spec.status %q: want Trial, Active or Suspended", s.Status)
	}
	if s.Seats != nil {
		ok := s.Seats.Type == intstr.Int && s.Seats.IntVal >= 1 && s.Seats.IntVal <= 99_000_000 ||
			s.Seats.Type == intstr.String && s.Seats.StrVal == licensingv1alpha1.SiteLicense
		if !ok {
			return fmt.Errorf("spec.seats %s: seats must be an integer from 1 to 99000000 or \"SiteLicense\"", s.Seats.String())
		}
	}
	if s.Expiration != "" && s.Expiration != licensingv1alpha1.Never && !drift.ValidDate(s.Expiration) {
		return fmt.Errorf("spec.expiration %q: want a calendar date YYYY-MM-DD or \"Never\"", s.Expiration)
	}
	seen := map[string]bool{}
	for i, p := range s.FeatureParameters {
		field := fmt.Sprintf("spec.featureParameters[%d]", i)
		n := 0
		for _, set := range []bool{p.Boolean != nil, p.Integer != nil, p.Date != nil} {
			if set {
				n++
			}
		}
		switch {
		case !paramNamePattern.MatchString(p.Name):
			return fmt.Errorf("%s.name %q: want a feature parameter full name such as acme__MaxProjects", field, p.Name)
		case seen[p.Name]:
			return fmt.Errorf("%s.name %q: the parameter is listed twice", field, p.Name)
		case n != 1:
			return fmt.Errorf("%s (%s): a feature parameter takes exactly one value: boolean, integer or date", field, p.Name)
		case p.Date != nil && !drift.ValidDate(*p.Date):
			return fmt.Errorf("%s.date %q: want a calendar date YYYY-MM-DD", field, *p.Date)
		case p.Integer != nil && (*p.Integer < -2147483648 || *p.Integer > 2147483647):
			return fmt.Errorf("%s.integer %d: out of the 32-bit range", field, *p.Integer)
		}
		seen[p.Name] = true
	}
	switch s.ManagementPolicy {
	case "", licensingv1alpha1.PolicyEnforce, licensingv1alpha1.PolicyObserve:
	default:
		return fmt.Errorf("spec.managementPolicy %q: want Enforce or Observe", s.ManagementPolicy)
	}
	return nil
}
