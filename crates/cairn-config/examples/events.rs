use saphyr_parser::Parser;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let mut p = Parser::new_from_str(&text);
    while let Some(ev) = p.next_event() {
        match ev {
            Ok((e, s)) => {
                let (a, b) = (s.start.index(), s.end.index());
                let sl: String = text.chars().skip(a).take(b - a).collect();
                println!("{:?} [{}..{}] l{}c{} {:?}", e, a, b, s.start.line(), s.start.col(), sl);
                if matches!(e, saphyr_parser::Event::StreamEnd) { break; }
            }
            Err(e) => { println!("ERR {e} marker={:?}", e.marker()); break; }
        }
    }
}
