"""Make the vendored Uppy bundle write sizes as every other page does (archive/formatting.py):
decimal units (1 MB = 1,000,000 bytes), one decimal, the page's decimal sign. Uppy has no
option for it: its Dashboard and status bar call one internal function, prettierBytes
(binary units under decimal names: a 400.7 MB file shows as "382 MB"), replaced here.
Run by scripts/vendor-js after each refresh; fails if the function is not found."""
import re
import sys
from pathlib import Path

DECIMAL = ('function(e){if(typeof e!="number"||Number.isNaN(e))throw new TypeError("Expected a number, got "+typeof e);'
           '/* webinar-archive: archive/formatting.py size_parts, in the page language */'
           'var u=["B","KB","MB","GB"],i=0,v=Math.abs(e),r=Math.round(v);'
           'while(i<u.length-1&&r>=1000){v/=1000;i++;r=Math.round(v*10)/10}'
           'var l=typeof document!="undefined"&&document.documentElement.lang||void 0;'
           'return(e<0?"-":"")+r.toLocaleString(l,{maximumFractionDigits:1})+" "+u[i]}')
MARK = "webinar-archive: archive/formatting.py"

path = Path(sys.argv[1])
text = path.read_text(encoding="utf-8")
if MARK in text:
    sys.exit(0)
found = re.compile(r'function\(e\)\{if\(typeof e!="number"\|\|Number\.isNaN\(e\)\)throw new TypeError\(`Expected a number, got \$\{typeof e\}`\);'
                   r'.{0,400}?Math\.log\(1024\).{0,300}?\}(?=,"prettierBytes"\))', re.S)
text, n = found.subn(lambda m: DECIMAL, text)
if n != 1:
    sys.exit(f"{path}: Uppy's prettierBytes not found once ({n}); check the patch against this Uppy version")
path.write_text(text, encoding="utf-8")
