package data

import (
	"sort"
	"unicode/utf8"
)

// This file splits text into extended grapheme clusters (Unicode Standard Annex #29, rules
// GB3 to GB999 including GB9c), as the unicode-segmentation crate does for the Precompiled
// normalizer of the Hugging Face tokenizers library. The category tables are in
// grapheme_tables.go.

// graphemeCat is a Grapheme_Cluster_Break value, with the Indic_Conjunct_Break consonants
// and Extended_Pictographic characters given categories of their own, as in
// unicode-segmentation.
type graphemeCat uint8

const (
	gcAny graphemeCat = iota
	gcCR
	gcControl
	gcExtend
	gcExtPict
	gcInCBConsonant
	gcL
	gcLF
	gcLV
	gcLVT
	gcPrepend
	gcRI
	gcSpacingMark
	gcT
	gcV
	gcZWJ
)

// graphemeRange is one row of graphemeRanges.
type graphemeRange struct {
	lo, hi rune
	cat    graphemeCat
}

// graphemeCategory returns the category of r.
func graphemeCategory(r rune) graphemeCat {
	switch {
	case r < 0x7f && r >= 0x20:
		return gcAny
	case r < 0x20:
		switch r {
		case '\r':
			return gcCR
		case '\n':
			return gcLF
		}
		return gcControl
	}
	i := sort.Search(len(graphemeRanges), func(i int) bool { return graphemeRanges[i].hi >= r })
	if i < len(graphemeRanges) && graphemeRanges[i].lo <= r {
		return graphemeRanges[i].cat
	}
	return gcAny
}

// isInCBExtend reports whether r has Indic_Conjunct_Break=Extend.
func isInCBExtend(r rune) bool {
	i := sort.Search(len(incbExtendRanges), func(i int) bool { return incbExtendRanges[i][1] >= r })
	return i < len(incbExtendRanges) && incbExtendRanges[i][0] <= r
}

// graphemeIter walks the extended grapheme clusters of a string.
type graphemeIter struct {
	s   string
	pos int
	// state carried over from the previous cluster: category and rune after its end are
	// decoded again, so nothing else is needed.
}

// next returns the next grapheme cluster, or "" at the end of the string. Invalid UTF-8
// bytes are clusters of one byte each.
func (g *graphemeIter) next() string {
	s := g.s
	start := g.pos
	if start >= len(s) {
		return ""
	}
	// Fast path: printable ASCII followed by ASCII (or the end) is a cluster of its own,
	// since no ASCII character extends a cluster and CR LF is the only ASCII pair kept
	// together.
	if c := s[start]; c < utf8.RuneSelf && c != '\r' {
		if start+1 >= len(s) || s[start+1] < utf8.RuneSelf {
			g.pos = start + 1
			return s[start:g.pos]
		}
	}
	r, size := utf8.DecodeRuneInString(s[start:])
	prev := graphemeCategory(r)
	if r == utf8.RuneError && size <= 1 {
		prev = gcControl // a stray byte breaks on both sides
	}
	i := start + size
	// Look-behind state for GB9c (consonant, then extends/linkers with at least one
	// linker), GB11 (pictographic, extends, then ZWJ) and GB12/13 (count of regional
	// indicators).
	incb := 0 // 0 none, 1 consonant seen, 2 consonant and linker seen
	if prev == gcInCBConsonant {
		incb = 1
	}
	emoji := 0 // 0 none, 1 pictographic then extends, 2 followed by ZWJ
	if prev == gcExtPict {
		emoji = 1
	}
	ris := 0
	if prev == gcRI {
		ris = 1
	}
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		cur := graphemeCategory(r)
		if r == utf8.RuneError && size <= 1 {
			break
		}
		if !graphemeJoins(prev, cur, incb == 2, emoji == 2, ris) {
			break
		}
		// Update the look-behind state with r.
		switch {
		case cur == gcInCBConsonant:
			incb = 1
		case incb > 0 && isInCBLinker(r):
			incb = 2
		case incb > 0 && isInCBExtend(r):
		default:
			incb = 0
		}
		switch {
		case cur == gcExtPict:
			emoji = 1
		case emoji == 1 && cur == gcExtend:
		case emoji == 1 && cur == gcZWJ:
			emoji = 2
		default:
			emoji = 0
		}
		if cur == gcRI {
			ris++
		} else {
			ris = 0
		}
		prev = cur
		i += size
	}
	g.pos = i
	return s[start:i]
}

// graphemeJoins reports whether there is no cluster boundary between a character of
// category prev and the next one of category cur. incbLinked tells whether the text so far
// ends with an InCB consonant followed by extends and linkers including a linker (GB9c);
// emojiZWJ whether it ends with a pictographic character, extends and a ZWJ (GB11); ris
// is the number of regional indicators it ends with (GB12, GB13).
func graphemeJoins(prev, cur graphemeCat, incbLinked, emojiZWJ bool, ris int) bool {
	switch {
	case prev == gcCR && cur == gcLF: // GB3
		return true
	case prev == gcControl || prev == gcCR || prev == gcLF: // GB4
		return false
	case cur == gcControl || cur == gcCR || cur == gcLF: // GB5
		return false
	case prev == gcL && (cur == gcL || cur == gcV || cur == gcLV || cur == gcLVT): // GB6
		return true
	case (prev == gcLV || prev == gcV) && (cur == gcV || cur == gcT): // GB7
		return true
	case (prev == gcLVT || prev == gcT) && cur == gcT: // GB8
		return true
	case cur == gcExtend || cur == gcZWJ: // GB9
		return true
	case cur == gcSpacingMark: // GB9a
		return true
	case prev == gcPrepend: // GB9b
		return true
	case cur == gcInCBConsonant: // GB9c
		return incbLinked
	case prev == gcZWJ && cur == gcExtPict: // GB11
		return emojiZWJ
	case prev == gcRI && cur == gcRI: // GB12, GB13
		return ris%2 == 1
	}
	return false // GB999
}
