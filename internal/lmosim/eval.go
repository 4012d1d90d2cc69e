package lmosim

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// fieldPath is a resolved field reference, possibly through parent relationships.
type fieldPath struct {
	rels []*fieldDef // reference fields walked, in order
	f    *fieldDef
	name string // canonical dotted name
}

func (p *fieldPath) get(st *store, r record) val {
	for _, rf := range p.rels {
		if rf.parent == nil {
			return null
		}
		r = rf.parent(st, r)
		if r == nil {
			return null
		}
	}
	return p.f.get(st, r)
}

func invalidField(format string, args ...any) *soqlError {
	return &soqlError{code: "INVALID_FIELD", msg: fmt.Sprintf(format, args...)}
}

// resolvePath finds a field, following relationship names (sfLma__Package__r.Name, CreatedBy.Name).
func resolvePath(obj *objectDef, name string, installed func(string) bool) (*fieldPath, *soqlError) {
	parts := strings.Split(name, ".")
	if len(parts) > 1 && strings.EqualFold(parts[0], obj.name) {
		parts = parts[1:] // a field may be qualified with the object name
	}
	p := &fieldPath{}
	cur := obj
	var canon []string
	for _, part := range parts[:len(parts)-1] {
		rf := cur.rel(part)
		if rf == nil {
			return nil, invalidField("Didn't understand relationship '%s' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name.", part)
		}
		next := lookupObject(rf.refTo)
		if next == nil || !installed(next.pkg) || !installed(rf.pkg) {
			return nil, invalidField("Didn't understand relationship '%s' in field path.", part)
		}
		p.rels = append(p.rels, rf)
		canon = append(canon, rf.relName)
		cur = next
	}
	last := parts[len(parts)-1]
	f := cur.field(last)
	if f == nil || !installed(f.pkg) {
		return nil, invalidField("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.", last, cur.name)
	}
	p.f = f
	p.name = strings.Join(append(canon, f.name), ".")
	return p, nil
}

// caseInsensitive reports whether comparisons on a field type ignore case, as SOQL does for text.
func caseInsensitive(typ string) bool {
	return typ == "string" || typ == "picklist" || typ == "textarea"
}

// compare orders two non-null values of the same kind.
func compare(a, b val, ci bool) int {
	switch a.K {
	case kString, kDate:
		if ci {
			return strings.Compare(strings.ToLower(a.S), strings.ToLower(b.S))
		}
		return strings.Compare(a.S, b.S)
	case kNumber:
		switch {
		case a.N < b.N:
			return -1
		case a.N > b.N:
			return 1
		}
		return 0
	case kBool:
		switch {
		case a.B == b.B:
			return 0
		case !a.B:
			return -1
		}
		return 1
	case kDateTime:
		switch {
		case a.T < b.T:
			return -1
		case a.T > b.T:
			return 1
		}
		return 0
	}
	return 0
}

// pred is a compiled WHERE condition.
type pred func(st *store, r record) bool

// operand is a literal converted to the field's type: a value, or a day range for TODAY etc.
type operand struct {
	v       val
	isRange bool
	lo, hi  val // [lo, hi)
}

func parseDateTimeLiteral(s string) (int64, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

func filterError(f *fieldDef, lit literal) *soqlError {
	text := lit.text
	if lit.kind == tString {
		text = "'" + lit.text + "'"
	}
	return &soqlError{code: "INVALID_QUERY_FILTER_OPERATOR", msg: fmt.Sprintf(
		"value of filter criterion for field '%s' must be of type %s and should not be enclosed in quotes: %s", f.name, f.typ, text)}
}

// operandFor converts a literal for comparison with field f.
func operandFor(f *fieldDef, lit literal, now time.Time) (operand, *soqlError) {
	if lit.kind == tIdent && lit.text == "null" {
		return operand{v: null}, nil
	}
	switch f.typ {
	case "id", "reference":
		if lit.kind == tString {
			return operand{v: str(sfid.Key15(lit.text))}, nil
		}
	case "string", "picklist", "textarea":
		if lit.kind == tString {
			return operand{v: str(lit.text)}, nil
		}
	case "double":
		if lit.kind == tNumber {
			n, err := strconv.ParseFloat(lit.text, 64)
			if err == nil {
				return operand{v: num(n)}, nil
			}
		}
	case "boolean":
		if lit.kind == tIdent && (lit.text == "true" || lit.text == "false") {
			return operand{v: boolean(lit.text == "true")}, nil
		}
	case "date", "datetime":
		if lit.kind == tIdent && dateKeywords[lit.text] {
			today := now.UTC().Truncate(24 * time.Hour)
			var lo, hi time.Time
			switch lit.text {
			case "today":
				lo, hi = today, today.AddDate(0, 0, 1)
			case "yesterday":
				lo, hi = today.AddDate(0, 0, -1), today
			case "tomorrow":
				lo, hi = today.AddDate(0, 0, 1), today.AddDate(0, 0, 2)
			case "last_n_days":
				lo, hi = today.AddDate(0, 0, -lit.n), today.AddDate(0, 0, 1)
			case "next_n_days":
				lo, hi = today.AddDate(0, 0, 1), today.AddDate(0, 0, lit.n+1)
			}
			if f.typ == "date" {
				return operand{isRange: true, lo: date(lo.Format(dateLayout)), hi: date(hi.Format(dateLayout))}, nil
			}
			return operand{isRange: true, lo: dateTime(lo.UnixMilli()), hi: dateTime(hi.UnixMilli())}, nil
		}
		if f.typ == "date" && lit.kind == tDate {
			if d, ok := parseDate(lit.text); ok {
				return operand{v: date(d)}, nil
			}
		}
		if f.typ == "datetime" && lit.kind == tDateTime {
			if ms, ok := parseDateTimeLiteral(lit.text); ok {
				return operand{v: val{K: kDateTime, T: ms}}, nil
			}
		}
	case "anyType":
		return operand{}, invalidField("field '%s' can not be filtered in a query call", f.name)
	}
	return operand{}, filterError(f, lit)
}

// compileCond turns a WHERE tree into a predicate, checking fields and literal types.
func compileCond(obj *objectDef, c cond, installed func(string) bool, now time.Time) (pred, *soqlError) {
	switch c := c.(type) {
	case andCond:
		l, err := compileCond(obj, c.l, installed, now)
		if err != nil {
			return nil, err
		}
		r, err := compileCond(obj, c.r, installed, now)
		if err != nil {
			return nil, err
		}
		return func(st *store, x record) bool { return l(st, x) && r(st, x) }, nil
	case orCond:
		l, err := compileCond(obj, c.l, installed, now)
		if err != nil {
			return nil, err
		}
		r, err := compileCond(obj, c.r, installed, now)
		if err != nil {
			return nil, err
		}
		return func(st *store, x record) bool { return l(st, x) || r(st, x) }, nil
	case notCond:
		inner, err := compileCond(obj, c.c, installed, now)
		if err != nil {
			return nil, err
		}
		return func(st *store, x record) bool { return !inner(st, x) }, nil
	case cmpCond:
		return compileCmp(obj, c, installed, now)
	}
	return nil, malformed("unsupported condition")
}

func compileCmp(obj *objectDef, c cmpCond, installed func(string) bool, now time.Time) (pred, *soqlError) {
	p, serr := resolvePath(obj, c.field, installed)
	if serr != nil {
		return nil, serr
	}
	ci := caseInsensitive(p.f.typ)
	if p.f.typ == "id" || p.f.typ == "reference" {
		// Ids compare on their case-sensitive 15-character form, so 15 and 18 both match.
		inner := *p
		p = &fieldPath{rels: inner.rels, name: inner.name, f: &fieldDef{name: inner.f.name, typ: inner.f.typ,
			get: func(st *store, r record) val {
				v := inner.f.get(st, r)
				if v.K == kString {
					v.S = sfid.Key15(v.S)
				}
				return v
			}}}
	}
	var ops []operand
	for _, lit := range c.lits {
		o, err := operandFor(p.f, lit, now)
		if err != nil {
			return nil, err
		}
		if o.isRange && (c.op == "IN" || c.op == "NOTIN") {
			return nil, malformed("date literals like %s are not allowed in IN", strings.ToUpper(lit.text))
		}
		ops = append(ops, o)
	}
	switch c.op {
	case "LIKE":
		if !ci && p.f.typ != "id" && p.f.typ != "reference" {
			return nil, &soqlError{code: "INVALID_QUERY_FILTER_OPERATOR", msg: fmt.Sprintf("invalid operator on %s field: %s", p.f.typ, p.f.name)}
		}
		re := likePattern(c.lits[0].text)
		return func(st *store, x record) bool {
			v := p.get(st, x)
			return v.K == kString && re.MatchString(v.S)
		}, nil
	case "IN", "NOTIN":
		set := map[string]bool{}
		var others []operand
		hasNull := false
		for _, o := range ops {
			switch {
			case o.v.isNull():
				hasNull = true
			case o.v.K == kString:
				k := o.v.S
				if ci {
					k = strings.ToLower(k)
				}
				set[k] = true
			default:
				others = append(others, o)
			}
		}
		in := func(st *store, x record) bool {
			v := p.get(st, x)
			if v.isNull() {
				return hasNull
			}
			if v.K == kString {
				k := v.S
				if ci {
					k = strings.ToLower(k)
				}
				return set[k]
			}
			for _, o := range others {
				if o.v.K == v.K && compare(v, o.v, ci) == 0 {
					return true
				}
			}
			return false
		}
		if c.op == "NOTIN" {
			return func(st *store, x record) bool { return !in(st, x) }, nil
		}
		return in, nil
	}
	o := ops[0]
	op := c.op
	if o.v.isNull() && !o.isRange {
		switch op {
		case "=":
			return func(st *store, x record) bool { return p.get(st, x).isNull() }, nil
		case "!=":
			return func(st *store, x record) bool { return !p.get(st, x).isNull() }, nil
		}
		return nil, &soqlError{code: "INVALID_QUERY_FILTER_OPERATOR", msg: "null can only be compared with = and !="}
	}
	if p.f.typ == "boolean" && op != "=" && op != "!=" {
		return nil, &soqlError{code: "INVALID_QUERY_FILTER_OPERATOR", msg: fmt.Sprintf("invalid operator on boolean field: %s", p.f.name)}
	}
	if o.isRange {
		return func(st *store, x record) bool {
			v := p.get(st, x)
			if v.isNull() {
				return op == "!="
			}
			below := compare(v, o.lo, false) < 0
			above := compare(v, o.hi, false) >= 0
			switch op {
			case "=":
				return !below && !above
			case "!=":
				return below || above
			case "<":
				return below
			case "<=":
				return !above
			case ">":
				return above
			default: // >=
				return !below
			}
		}, nil
	}
	return func(st *store, x record) bool {
		v := p.get(st, x)
		if v.isNull() {
			return op == "!=" // SOQL includes nulls in !=
		}
		var d int
		if op == "=" || op == "!=" {
			if ci {
				if strings.EqualFold(v.S, o.v.S) {
					d = 0
				} else {
					d = 1
				}
			} else {
				d = compare(v, o.v, false)
			}
		} else {
			d = compare(v, o.v, ci)
		}
		switch op {
		case "=":
			return d == 0
		case "!=":
			return d != 0
		case "<":
			return d < 0
		case "<=":
			return d <= 0
		case ">":
			return d > 0
		default:
			return d >= 0
		}
	}, nil
}

// likePattern compiles a SOQL LIKE pattern (% and _ wildcards, case-insensitive).
func likePattern(pat string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?is)^")
	for _, r := range pat {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// selNode is the tree of selected fields, so that relationship fields nest in the JSON.
type selNode struct {
	name  string
	field *fieldDef // leaf
	rel   *fieldDef // relationship
	obj   *objectDef
	kids  []*selNode
}

func (n *selNode) child(name string) *selNode {
	for _, k := range n.kids {
		if strings.EqualFold(k.name, name) {
			return k
		}
	}
	return nil
}

// compiled is a query checked against the schema, ready to run.
type compiled struct {
	obj    *objectDef
	count  bool
	sel    *selNode
	where  pred
	order  []orderKey
	limit  int
	offset int
}

type orderKey struct {
	path       *fieldPath
	desc       bool
	nullsFirst bool
	ci         bool
}

// compileQuery checks a parsed query against the objects that are installed.
func compileQuery(q *soqlQuery, installed func(string) bool, now time.Time) (*compiled, *soqlError) {
	obj := lookupObject(q.object)
	if obj == nil || !installed(obj.pkg) {
		return nil, &soqlError{code: "INVALID_TYPE", msg: fmt.Sprintf(
			"sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", q.object)}
	}
	c := &compiled{obj: obj, count: q.count, limit: q.limit, offset: q.offset}
	if !q.count {
		c.sel = &selNode{obj: obj}
		for _, name := range q.fields {
			p, err := resolvePath(obj, name, installed)
			if err != nil {
				return nil, err
			}
			n := c.sel
			for _, rf := range p.rels {
				k := n.child(rf.relName)
				if k == nil {
					k = &selNode{name: rf.relName, rel: rf, obj: lookupObject(rf.refTo)}
					n.kids = append(n.kids, k)
				} else if k.rel == nil {
					return nil, malformed("duplicate field selected: %s", name)
				}
				n = k
			}
			if n.child(p.f.name) != nil {
				return nil, malformed("duplicate field selected: %s", p.name)
			}
			n.kids = append(n.kids, &selNode{name: p.f.name, field: p.f})
		}
	}
	if q.where != nil {
		w, err := compileCond(obj, q.where, installed, now)
		if err != nil {
			return nil, err
		}
		c.where = w
	}
	for _, o := range q.orderBy {
		p, err := resolvePath(obj, o.field, installed)
		if err != nil {
			return nil, err
		}
		if p.f.typ == "anyType" {
			return nil, invalidField("field '%s' can not be sorted in a query call", p.f.name)
		}
		c.order = append(c.order, orderKey{path: p, desc: o.desc, nullsFirst: o.nullsFirst, ci: caseInsensitive(p.f.typ)})
	}
	return c, nil
}

// run evaluates the query and returns the matching records in order, after OFFSET and LIMIT.
func (c *compiled) run(st *store) []record {
	var out []record
	c.obj.scan(st, func(r record) {
		if c.where == nil || c.where(st, r) {
			out = append(out, r)
		}
	})
	if len(c.order) > 0 {
		c.sort(st, out)
	}
	if c.offset > 0 {
		if c.offset >= len(out) {
			out = nil
		} else {
			out = out[c.offset:]
		}
	}
	if c.limit >= 0 && c.limit < len(out) {
		out = out[:c.limit]
	}
	return out
}

// sort orders rows by the ORDER BY keys, extracting every key once.
func (c *compiled) sort(st *store, rows []record) {
	k := len(c.order)
	keys := make([]val, len(rows)*k)
	for i, r := range rows {
		for j, o := range c.order {
			v := o.path.get(st, r)
			if o.ci && v.K == kString {
				v.S = strings.ToLower(v.S)
			}
			keys[i*k+j] = v
		}
	}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		for j, o := range c.order {
			x, y := keys[idx[a]*k+j], keys[idx[b]*k+j]
			switch {
			case x.isNull() && y.isNull():
				continue
			case x.isNull():
				return o.nullsFirst
			case y.isNull():
				return !o.nullsFirst
			}
			d := compare(x, y, false)
			if d == 0 {
				continue
			}
			if o.desc {
				return d > 0
			}
			return d < 0
		}
		return false
	})
	sorted := make([]record, len(rows))
	for i, j := range idx {
		sorted[i] = rows[j]
	}
	copy(rows, sorted)
}
