import re,sys
def load(f):
    d={}
    for line in open(f):
        m=re.match(r'\s*([\d,]+)\s+\([ \d.]+%\)\s+(.*)$',line)
        if m: d[m.group(2).strip()]=int(m.group(1).replace(',',''))
    return d
pfx=sys.argv[1]; ext=sys.argv[2]; n=int(sys.argv[3]); a=sys.argv[4]; b=sys.argv[5]
p2=load(f"{pfx}.{n}.{a}.{ext}"); p4=load(f"{pfx}.{2*n}.{a}.{ext}")
o2=load(f"{pfx}.{n}.{b}.{ext}"); o4=load(f"{pfx}.{2*n}.{b}.{ext}")
keys=set(p2)|set(p4)|set(o2)|set(o4)
rows=[]
for k in keys:
    d=((o4.get(k,0)-o2.get(k,0))-(p4.get(k,0)-p2.get(k,0)))/n
    if abs(d)>=3: rows.append((d,k))
rows.sort()
for d,k in rows: print(f"{d:9.1f} {k[:160]}")
