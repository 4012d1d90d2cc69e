package lmosim

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// This file parses the SOQL subset lmosim understands:
//
//	SELECT field, rel.field, ... | COUNT()
//	FROM object
//	[WHERE cond]   cond: AND, OR, NOT, parentheses; = != <> < <= > >= [NOT] IN (...) LIKE
//	[ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...]
//	[LIMIT n] [OFFSET n]
//
// Literals: 'strings' (with \' \\ \n escapes), numbers, true, false, null, dates (2026-11-23),
// datetimes (2026-11-23T10:00:00Z, .000Z, +0000, +00:00), and TODAY, YESTERDAY, TOMORROW,
// LAST_N_DAYS:n, NEXT_N_DAYS:n.

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDate
	tDateTime
	tPunct
)

type token struct {
	kind tokKind
	text string // identifier, punctuation, literal source, or the unescaped string
	pos  int
}

// soqlError is a query problem reported as MALFORMED_QUERY (or another code).
type soqlError struct {
	code string
	msg  string
}

func (e *soqlError) Error() string { return e.msg }

func malformed(format string, args ...any) *soqlError {
	return &soqlError{code: "MALFORMED_QUERY", msg: fmt.Sprintf(format, args...)}
}

var (
	reDateTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})`)
	reDate     = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)
	reNumber   = regexp.MustCompile(`^-?\d+(\.\d+)?`)
)

func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(src) {
				if src[j] == '\\' && j+1 < len(src) {
					switch src[j+1] {
					case 'n':
						b.WriteByte('\n')
					case 'r':
						b.WriteByte('\r')
					case 't':
						b.WriteByte('\t')
					default:
						b.WriteByte(src[j+1])
					}
					j += 2
					continue
				}
				if src[j] == '\'' {
					closed = true
					j++
					break
				}
				b.WriteByte(src[j])
				j++
			}
			if !closed {
				return nil, malformed("unterminated string literal at position %d", i)
			}
			toks = append(toks, token{kind: tString, text: b.String(), pos: i})
			i = j
		case c >= '0' && c <= '9' || (c == '-' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9'):
			rest := src[i:]
			if m := reDateTime.FindString(rest); m != "" && c != '-' {
				toks = append(toks, token{kind: tDateTime, text: m, pos: i})
				i += len(m)
			} else if m := reDate.FindString(rest); m != "" && c != '-' {
				toks = append(toks, token{kind: tDate, text: m, pos: i})
				i += len(m)
			} else {
				m := reNumber.FindString(rest)
				toks = append(toks, token{kind: tNumber, text: m, pos: i})
				i += len(m)
			}
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(src) && (src[j] == '_' || src[j] == '.' || src[j] >= 'a' && src[j] <= 'z' ||
				src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			toks = append(toks, token{kind: tIdent, text: src[i:j], pos: i})
			i = j
		case strings.HasPrefix(src[i:], "!=") || strings.HasPrefix(src[i:], "<>") ||
			strings.HasPrefix(src[i:], "<=") || strings.HasPrefix(src[i:], ">="):
			toks = append(toks, token{kind: tPunct, text: src[i : i+2], pos: i})
			i += 2
		case strings.IndexByte("(),=<>:", c) >= 0:
			toks = append(toks, token{kind: tPunct, text: src[i : i+1], pos: i})
			i++
		default:
			return nil, malformed("unexpected character %q at position %d", c, i)
		}
	}
	return append(toks, token{kind: tEOF, pos: len(src)}), nil
}

// The syntax tree.

type soqlQuery struct {
	fields  []string // as written; empty with count
	count   bool
	object  string
	where   cond
	orderBy []orderItem
	limit   int // -1: none
	offset  int
}

type orderItem struct {
	field      string
	desc       bool
	nullsFirst bool
}

type cond interface{ isCond() }

type andCond struct{ l, r cond }
type orCond struct{ l, r cond }
type notCond struct{ c cond }
type cmpCond struct {
	field string
	op    string // = != < <= > >= LIKE IN NOTIN
	lits  []literal
}

func (andCond) isCond() {}
func (orCond) isCond()  {}
func (notCond) isCond() {}
func (cmpCond) isCond() {}

type literal struct {
	kind tokKind // tString, tNumber, tDate, tDateTime, tIdent for true/false/null/date keywords
	text string
	n    int // for LAST_N_DAYS:n
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

func (p *parser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *parser) expectKeyword(kw string) error {
	if !p.isKeyword(kw) {
		return p.unexpected()
	}
	p.next()
	return nil
}

func (p *parser) expectPunct(s string) error {
	if !p.isPunct(s) {
		return p.unexpected()
	}
	p.next()
	return nil
}

func (p *parser) unexpected() error {
	t := p.peek()
	if t.kind == tEOF {
		return malformed("unexpected end of query")
	}
	return malformed("unexpected token: '%s' at position %d", t.text, t.pos)
}

var reserved = map[string]bool{"select": true, "from": true, "where": true, "and": true, "or": true, "not": true,
	"order": true, "by": true, "limit": true, "offset": true, "in": true, "like": true, "asc": true, "desc": true,
	"nulls": true, "first": true, "last": true, "null": true, "true": true, "false": true, "group": true, "having": true}

func (p *parser) fieldName() (string, error) {
	t := p.peek()
	if t.kind != tIdent || reserved[lower(t.text)] || strings.HasPrefix(t.text, ".") ||
		strings.HasSuffix(t.text, ".") || strings.Contains(t.text, "..") {
		return "", p.unexpected()
	}
	p.next()
	return t.text, nil
}

// parseSOQL parses a query of the supported subset.
func parseSOQL(src string) (*soqlQuery, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q := &soqlQuery{limit: -1}
	if err := p.expectKeyword("SELECT"); err != nil {
		return nil, err
	}
	if p.isKeyword("COUNT") {
		p.next()
		if err := p.expectPunct("("); err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, malformed("only COUNT() is supported")
		}
		q.count = true
	} else {
		for {
			f, err := p.fieldName()
			if err != nil {
				return nil, err
			}
			q.fields = append(q.fields, f)
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return nil, err
	}
	obj, err := p.fieldName()
	if err != nil || strings.Contains(obj, ".") {
		return nil, malformed("expected an object name after FROM")
	}
	q.object = obj
	if p.isKeyword("WHERE") {
		p.next()
		c, err := p.parseOr(0)
		if err != nil {
			return nil, err
		}
		q.where = c
	}
	if p.isKeyword("ORDER") {
		p.next()
		if err := p.expectKeyword("BY"); err != nil {
			return nil, err
		}
		if q.count {
			return nil, malformed("ORDER BY is not allowed with COUNT()")
		}
		for {
			f, err := p.fieldName()
			if err != nil {
				return nil, err
			}
			item := orderItem{field: f}
			if p.isKeyword("ASC") {
				p.next()
			} else if p.isKeyword("DESC") {
				p.next()
				item.desc = true
			}
			item.nullsFirst = !item.desc
			if p.isKeyword("NULLS") {
				p.next()
				switch {
				case p.isKeyword("FIRST"):
					item.nullsFirst = true
				case p.isKeyword("LAST"):
					item.nullsFirst = false
				default:
					return nil, p.unexpected()
				}
				p.next()
			}
			q.orderBy = append(q.orderBy, item)
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
	}
	if p.isKeyword("LIMIT") {
		p.next()
		n, err := p.nonNegativeInt()
		if err != nil {
			return nil, err
		}
		q.limit = n
	}
	if p.isKeyword("OFFSET") {
		p.next()
		n, err := p.nonNegativeInt()
		if err != nil {
			return nil, err
		}
		q.offset = n
	}
	if p.peek().kind != tEOF {
		return nil, p.unexpected()
	}
	return q, nil
}

func (p *parser) nonNegativeInt() (int, error) {
	t := p.peek()
	if t.kind != tNumber {
		return 0, p.unexpected()
	}
	n, err := strconv.Atoi(t.text)
	if err != nil || n < 0 {
		return 0, malformed("expected a non-negative integer, got %s", t.text)
	}
	p.next()
	return n, nil
}

const maxCondDepth = 100

func (p *parser) parseOr(depth int) (cond, error) {
	if depth > maxCondDepth {
		return nil, malformed("WHERE clause nests too deeply")
	}
	l, err := p.parseAnd(depth)
	if err != nil {
		return nil, err
	}
	for p.isKeyword("OR") {
		p.next()
		r, err := p.parseAnd(depth)
		if err != nil {
			return nil, err
		}
		l = orCond{l, r}
	}
	return l, nil
}

func (p *parser) parseAnd(depth int) (cond, error) {
	l, err := p.parseNot(depth)
	if err != nil {
		return nil, err
	}
	for p.isKeyword("AND") {
		p.next()
		r, err := p.parseNot(depth)
		if err != nil {
			return nil, err
		}
		l = andCond{l, r}
	}
	return l, nil
}

func (p *parser) parseNot(depth int) (cond, error) {
	if depth > maxCondDepth {
		return nil, malformed("WHERE clause nests too deeply")
	}
	if p.isKeyword("NOT") {
		p.next()
		c, err := p.parseNot(depth + 1)
		if err != nil {
			return nil, err
		}
		return notCond{c}, nil
	}
	if p.isPunct("(") {
		p.next()
		c, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return c, nil
	}
	return p.parseComparison()
}

func (p *parser) parseComparison() (cond, error) {
	f, err := p.fieldName()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tPunct && strings.Contains("= != <> < <= > >=", t.text) && t.text != "(" && t.text != ")" && t.text != ",":
		p.next()
		op := t.text
		if op == "<>" {
			op = "!="
		}
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		return cmpCond{field: f, op: op, lits: []literal{lit}}, nil
	case p.isKeyword("LIKE"):
		p.next()
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		if lit.kind != tString {
			return nil, malformed("LIKE needs a string literal")
		}
		return cmpCond{field: f, op: "LIKE", lits: []literal{lit}}, nil
	case p.isKeyword("IN") || p.isKeyword("NOT"):
		op := "IN"
		if p.isKeyword("NOT") {
			p.next()
			op = "NOTIN"
			if !p.isKeyword("IN") {
				return nil, p.unexpected()
			}
		}
		p.next()
		if err := p.expectPunct("("); err != nil {
			return nil, err
		}
		if p.isKeyword("SELECT") {
			return nil, malformed("semi-join subqueries are not supported")
		}
		var lits []literal
		for {
			lit, err := p.literal()
			if err != nil {
				return nil, err
			}
			lits = append(lits, lit)
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return cmpCond{field: f, op: op, lits: lits}, nil
	}
	return nil, p.unexpected()
}

var dateKeywords = map[string]bool{"today": true, "yesterday": true, "tomorrow": true, "last_n_days": true, "next_n_days": true}

func (p *parser) literal() (literal, error) {
	t := p.peek()
	switch t.kind {
	case tString, tNumber, tDate, tDateTime:
		p.next()
		return literal{kind: t.kind, text: t.text}, nil
	case tIdent:
		k := lower(t.text)
		switch {
		case k == "true" || k == "false" || k == "null":
			p.next()
			return literal{kind: tIdent, text: k}, nil
		case dateKeywords[k]:
			p.next()
			lit := literal{kind: tIdent, text: k}
			if k == "last_n_days" || k == "next_n_days" {
				if err := p.expectPunct(":"); err != nil {
					return literal{}, err
				}
				n, err := p.nonNegativeInt()
				if err != nil {
					return literal{}, err
				}
				lit.n = n
			}
			return lit, nil
		}
	}
	return literal{}, p.unexpected()
}
