package data

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the pre-tokenizers of byte-level BPE (ByteLevel, as in GPT-2 and
// RoBERTa) and of SentencePiece models (Metaspace), and the general pre-tokenization of
// tokenizers that use them. The BERT-family pre-tokenizers are in normalize.go.

// prependScheme says when the Metaspace pre-tokenizer puts a replacement character before
// a word.
type prependScheme uint8

const (
	prependAlways prependScheme = iota // before every piece not starting with one
	prependFirst                       // only before the piece that starts the input
	prependNever
)

// byteLevelChars maps each byte to the UTF-8 encoding of the printable character that
// stands for it in byte-level BPE vocabularies (GPT-2's bytes_to_unicode): printable
// Latin-1 bytes map to themselves, the others to U+0100 onwards in byte order.
var byteLevelChars = func() (m [256]string) {
	n := 0
	for b := 0; b < 256; b++ {
		switch {
		case b >= '!' && b <= '~', b >= 0xA1 && b <= 0xAC, b >= 0xAE:
			m[b] = string(rune(b))
		default:
			m[b] = string(rune(256 + n))
			n++
		}
	}
	return m
}()

// byteLevelMap appends the byte-level form of s to dst.
func byteLevelMap(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = append(dst, byteLevelChars[s[i]]...)
	}
	return dst
}

// gpt2Split appends to dst the pieces of s under GPT-2's pre-tokenization regular
// expression
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// matched left to right as Oniguruma does. Every character matches one of the branches,
// so the pieces cover s.
func gpt2Split(dst []string, s string) []string {
	for i := 0; i < len(s); {
		j := gpt2Match(s, i)
		dst = append(dst, s[i:j])
		i = j
	}
	return dst
}

// GPT-2 regex character classes.
const (
	gptLetter = iota
	gptNumber
	gptSpace
	gptOther
)

func gpt2Class(r rune) int {
	if r < utf8.RuneSelf {
		switch {
		case r|0x20 >= 'a' && r|0x20 <= 'z':
			return gptLetter
		case r >= '0' && r <= '9':
			return gptNumber
		case r == ' ' || (r >= '\t' && r <= '\r'):
			return gptSpace
		}
		return gptOther
	}
	switch {
	case unicode.IsLetter(r):
		return gptLetter
	case unicode.IsNumber(r):
		return gptNumber
	case unicode.IsSpace(r):
		return gptSpace
	}
	return gptOther
}

// gpt2Match returns the end of the regex match that starts at i (i < len(s)).
func gpt2Match(s string, i int) int {
	if s[i] == '\'' {
		rest := s[i+1:]
		for _, c := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
			if strings.HasPrefix(rest, c) {
				return i + 1 + len(c)
			}
		}
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	cls := gpt2Class(r)
	start := i
	if r == ' ' && i+size < len(s) {
		// " ?X+": a single space joins a following run of letters, numbers or others.
		r2, _ := utf8.DecodeRuneInString(s[i+size:])
		if c2 := gpt2Class(r2); c2 != gptSpace {
			cls = c2
			start = i + size
		}
	}
	if cls != gptSpace {
		j := start
		for j < len(s) {
			r, size := utf8.DecodeRuneInString(s[j:])
			if gpt2Class(r) != cls {
				break
			}
			j += size
		}
		return j
	}
	// A run of whitespace: "\s+(?!\S)" leaves the last space to the next word, unless the
	// run ends the text or is a single character ("\s+").
	j, last := i, i
	for j < len(s) {
		r, size := utf8.DecodeRuneInString(s[j:])
		if gpt2Class(r) != gptSpace {
			break
		}
		last = j
		j += size
	}
	if j < len(s) && last > i {
		return last
	}
	return j
}

// splitGeneric appends the words of s to dst, running every pre-tokenizer of the
// sequence in turn. The first lead bytes of s stand at the very start of the input text
// (see normalizer.applyLead); Metaspace's prepend_scheme "first" prepends only to a word
// that starts there. Words are never empty.
func (p preTokenizer) splitGeneric(dst []string, s string, lead int, sc *encScratch) []string {
	if s == "" {
		return dst
	}
	start := len(dst)
	dst = append(dst, s)
	leads := append(sc.leads[:0], lead)
	for _, st := range p {
		words := append(sc.tmp[:0], dst[start:]...)
		wordLeads := append(sc.tmpLead[:0], leads...)
		dst, leads = dst[:start], leads[:0]
		for i, w := range words {
			dst, leads = st.apply(dst, leads, w, wordLeads[i], sc)
		}
		clear(words)
		sc.tmp, sc.tmpLead = words[:0], wordLeads[:0]
	}
	sc.leads = leads[:0]
	return dst
}

// apply appends the words of s under one pre-tokenizer to dst, and to leads how many of
// their leading bytes stand at the start of the input text, given that lead bytes of s do.
func (st preStep) apply(dst []string, leads []int, s string, lead int, sc *encScratch) ([]string, []int) {
	switch st.kind {
	case preByteLevel:
		if st.addPrefixSpace && !strings.HasPrefix(s, " ") {
			s = " " + s
			if lead > 0 {
				lead++ // the inserted space takes the position of the start
			}
		}
		n0 := len(dst)
		if st.useRegex {
			dst = gpt2Split(dst, s)
		} else {
			dst = append(dst, s)
		}
		off := 0
		for i := n0; i < len(dst); i++ {
			w := dst[i]
			wl := min(max(0, lead-off), len(w))
			off += len(w)
			sc.buf = byteLevelMap(sc.buf[:0], w[:wl])
			mapped := len(sc.buf)
			sc.buf = byteLevelMap(sc.buf, w[wl:])
			dst[i] = string(sc.buf)
			leads = append(leads, mapped)
		}
		return dst, leads
	case preMetaspace:
		if strings.IndexByte(s, ' ') >= 0 {
			if lead > 0 {
				lead = len(strings.ReplaceAll(s[:lead], " ", st.replacement))
			}
			s = strings.ReplaceAll(s, " ", st.replacement)
		}
		if !strings.HasPrefix(s, st.replacement) &&
			(st.prepend == prependAlways || (st.prepend == prependFirst && lead > 0)) {
			s = st.replacement + s
			if lead > 0 {
				lead += len(st.replacement)
			}
		}
		if !st.splitWords {
			return append(dst, s), append(leads, lead)
		}
		off := 0
		for len(s) > 0 {
			j := strings.Index(s[1:], st.replacement) + 1 // split before it, keeping it with the next word
			if j == 0 {
				j = len(s)
			}
			dst, leads = append(dst, s[:j]), append(leads, min(max(0, lead-off), j))
			s, off = s[j:], off+j
		}
		return dst, leads
	}
	// The classic pre-tokenizers only drop whitespace and cut: each word is found after the
	// previous one.
	n0 := len(dst)
	dst = splitOne(dst, s, st.kind)
	off := 0
	for _, w := range dst[n0:] {
		if k := strings.Index(s[off:], w); k > 0 {
			off += k
		}
		leads = append(leads, min(max(0, lead-off), len(w)))
		off = min(off+len(w), len(s))
	}
	return dst, leads
}
