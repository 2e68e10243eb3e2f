// The Jinja interpreter behind chat templates, piece by piece: the lexer's
// whitespace rules (Hugging Face's trim_blocks + lstrip_blocks), the
// parser's precedence, the interpreter's scoping, filters, tests and Python
// string methods, and errors that name the template's origin and line.
#include "engine/chat_template/chat_template.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/error.h"

namespace infini {
namespace {

std::string render(const std::string& source, const std::vector<ChatMessage>& messages = {},
                   nlohmann::json variables = nlohmann::json::object()) {
  ChatRenderOptions options;
  options.bos_token = "<s>";
  options.eos_token = "</s>";
  options.variables = std::move(variables);
  options.now = [] { return std::time_t{1796212800}; };  // 2026-12-02 12:00 UTC
  return ChatTemplate(source, "test.jinja").render(messages, options);
}

// The message of the EngineError that parsing or rendering throws.
std::string error_of(const std::string& source,
                     nlohmann::json variables = nlohmann::json::object()) {
  try {
    render(source, {{"user", "hi"}}, std::move(variables));
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "no error";
}

TEST(ChatTemplateLexer, TextAndOneTrailingNewlineDropped) {
  EXPECT_EQ(render("plain text\n"), "plain text");
  EXPECT_EQ(render("two\n\n"), "two\n");
  EXPECT_EQ(render("a\r\nb"), "a\nb");
}

TEST(ChatTemplateLexer, TrimAndLstripBlocks) {
  // The newline after a block tag goes, and the indentation before one.
  EXPECT_EQ(render("  {% if true %}\n  x\n  {% endif %}\nend"), "  x\nend");
  EXPECT_EQ(render("{# note #}\nafter"), "after");
  // Variable tags keep both.
  EXPECT_EQ(render("  {{ 'v' }}\nz"), "  v\nz");
  // Not at a line's start: the spaces stay.
  EXPECT_EQ(render("a  {% if true %}b{% endif %}"), "a  b");
  // {%+ turns lstrip off for that tag.
  EXPECT_EQ(render("  {%+ if true %}b{% endif %}"), "  b");
}

TEST(ChatTemplateLexer, WhitespaceControl) {
  EXPECT_EQ(render("a \n {{- 'b' -}} \n c"), "abc");
  EXPECT_EQ(render("a\n\n{%- if true -%}\n\n b {%- endif %}"), "ab");
  EXPECT_EQ(render("x {#- gone -#} y"), "xy");
}

TEST(ChatTemplateLexer, RawAndStringEscapes) {
  EXPECT_EQ(render("{% raw %}{{ not parsed }}{% endraw %}"), "{{ not parsed }}");
  EXPECT_EQ(render(R"({{ "a\nb\t\"q\" \u00e9 \x41 \q" }})"), "a\nb\t\"q\" \xC3\xA9 A \\q");
  EXPECT_EQ(render("{{ 'it''s' }}"), "its");                  // adjacent literals join
  EXPECT_EQ(render("{{ {'a': {'b': 1}}['a']['b'] }}"), "1");  // }} inside a dict is not the end
}

TEST(ChatTemplateExpressions, PrecedenceAndArithmetic) {
  EXPECT_EQ(render("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 1 }} {{ -2 + 5 }}"), "7 9 8 3");
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 1 / 2 }} {{ 4 / 2 }}"),
            "3 -4 1 2 0.5 2.0");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none }} {{ 'ab' * 2 }} {{ [1] + [2] }}"), "a1None abab [1, 2]");
  EXPECT_EQ(render("{{ not true or true }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}"), "True True False");
  EXPECT_EQ(render("{{ 'y' if 1 in [1, 2] else 'n' }}{{ 'x' if false }}"), "y");
  // A filter binds tighter than +: Llama 3's `'...' + message['content'] | trim + '...'`.
  EXPECT_EQ(render("{{ '[' + '  t  ' | trim + ']' }}"), "[t]");
  EXPECT_EQ(render("{{ [1, 2, 3] | length - 1 }}"), "2");
}

TEST(ChatTemplateExpressions, PythonPrinting) {
  EXPECT_EQ(render("{{ none }} {{ true }} {{ 1.0 }} {{ 2.5e3 }} {{ undefined_name }}|"),
            "None True 1.0 2500.0 |");
  EXPECT_EQ(render("{{ ['a', 1, none, {'k': \"it's\"}] }}"), "['a', 1, None, {'k': \"it's\"}]");
}

TEST(ChatTemplateExpressions, InAndComparisons) {
  EXPECT_EQ(render("{{ 'ell' in 'hello' }} {{ 'k' in {'k': 1} }} {{ 3 not in [1, 2] }}"),
            "True True True");
  EXPECT_EQ(
      render("{{ 'tool_calls' in messages[0] }} {{ 'x' in undefined_name }}", {{"user", "hi"}}),
      "False False");
  EXPECT_EQ(render("{{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ none == none }} {{ '1' == 1 }}"),
            "True True True False");
}

TEST(ChatTemplateExpressions, SubscriptsAndSlices) {
  const std::vector<ChatMessage> m = {{"system", "s"}, {"user", "u"}, {"assistant", "a"}};
  EXPECT_EQ(render("{% for x in messages[::-1] %}{{ x.role[0] }}{% endfor %}", m), "aus");
  EXPECT_EQ(
      render("{{ messages[1:] | length }} {{ messages[-1]['content'] }} {{ messages.0.role }}", m),
      "2 a system");
  EXPECT_EQ(render("{{ 'h\xC3\xA9llo'[1] }} {{ 'h\xC3\xA9llo'[::-1] }} {{ 'abcdef'[1:5:2] }}"),
            "\xC3\xA9 oll\xC3\xA9h bd");
  EXPECT_EQ(render("{{ messages[7] is defined }}", m), "False");
}

TEST(ChatTemplateStrings, PythonMethods) {
  EXPECT_EQ(render("{{ '<a>x</a>'.startswith('<a>') }} {{ 'x.txt'.endswith(('.md', '.txt')) }}"),
            "True True");
  EXPECT_EQ(render("{{ 'a</t>b</t>c'.split('</t>')[-1] }} {{ ' a  b '.split() }} {{ "
                   "'a,b,c'.split(',', 1) }}"),
            "c ['a', 'b'] ['a', 'b,c']");
  EXPECT_EQ(
      render("[{{ '\n\nx\n'.lstrip('\n') }}|{{ '\nx\n\n'.rstrip('\n') }}|{{ 'xyx'.strip('x') }}]"),
      "[x\n|\nx|y]");
  // Python's whitespace includes U+00A0 and U+3000.
  EXPECT_EQ(render("[{{ '\xC2\xA0 t \xE3\x80\x80'.strip() }}|{{ '\xC2\xA0 t ' | trim }}]"),
            "[t|t]");
  EXPECT_EQ(render("{{ 'aXa'.replace('a', 'b') }} {{ 'Hi'.upper() }}{{ 'Hi'.lower() }} {{ "
                   "'ab'.find('b') }}"),
            "bXb HIhi 1");
}

TEST(ChatTemplateFilters, Common) {
  EXPECT_EQ(render("{{ '\xE6\x97\xA5\xE6\x9C\xAC' | length }} {{ [3, 1, 2] | sort | join(',') }} "
                   "{{ missing | default('d') }} {{ '' | default('e', true) }}"),
            "2 1,2,3 d e");
  EXPECT_EQ(render("{{ [{'n': 'a', 'k': 1}, {'n': 'b'}] | selectattr('k', 'defined') | "
                   "map(attribute='n') | list }}"),
            "['a']");
  EXPECT_EQ(render("{{ ['a', 'code', 'b'] | reject('equalto', 'code') | join(', ') }}"), "a, b");
  EXPECT_EQ(render("{% for k, v in {'x': 1, 'y': 2} | items %}{{ k }}={{ v }};{% endfor %}"),
            "x=1;y=2;");
  EXPECT_EQ(
      render("{{ [1, 2] | first }}{{ [1, 2] | last }} {{ 'ab' | upper }} {{ '3' | int + 1 }}"),
      "12 AB 4");
}

TEST(ChatTemplateFilters, ToJsonAsTransformers) {
  // json.dumps(ensure_ascii=False): ', ' and ': ' separators, insertion order.
  EXPECT_EQ(render("{{ {'b': 1, 'a': [true, none, 1.5, 'x\"\xC3\xA9\n']} | tojson }}"),
            "{\"b\": 1, \"a\": [true, null, 1.5, \"x\\\"\xC3\xA9\\n\"]}");
  EXPECT_EQ(render("{{ {'a': [1, 2], 'e': {}} | tojson(indent=2) }}"),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"e\": {}\n}");
}

TEST(ChatTemplateTests, IsTests) {
  EXPECT_EQ(
      render("{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 1 is not none }}"),
      "False True True True");
  EXPECT_EQ(
      render("{{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 1 is string }}"),
      "True True True False");
  EXPECT_EQ(
      render("{{ 4 is divisibleby 2 }} {{ 3 is odd }} {{ false is false }} {{ 1 is sameas 1 }}"),
      "True True True True");
  EXPECT_EQ(render("{{ not x is defined }}"), "True");  // not (x is defined)
}

TEST(ChatTemplateStatements, ScopingAndNamespace) {
  // A set inside a loop stays there; a namespace carries values out.
  EXPECT_EQ(render("{% set x = 1 %}{% set ns = namespace(n=0) %}{% for i in [1, 2, 3] %}"
                   "{% set x = i %}{% set ns.n = ns.n + i %}{% endfor %}{{ x }} {{ ns.n }}"),
            "1 6");
  // A set inside if is not a scope.
  EXPECT_EQ(render("{% if true %}{% set y = 'in' %}{% endif %}{{ y }}"), "in");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a + b }}"), "3");
  EXPECT_EQ(render("{% set block %}inner {{ 1 + 1 }}{% endset %}[{{ block }}]"), "[inner 2]");
}

TEST(ChatTemplateStatements, LoopsAndMacros) {
  EXPECT_EQ(
      render("{% for x in 'abc' %}{{ loop.index0 }}{{ loop.index }}{{ loop.revindex0 }}"
             "{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}|{% endfor %}"),
      "012TrueFalse3|121FalseFalse3a|230FalseTrue3b|");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in range(10) if x is odd %}{% if x > 5 %}{% break %}{% endif %}"
                   "{% if x == 3 %}{% continue %}{% endif %}{{ x }}{{ loop.length }}{% endfor %}"),
            "1555");
  EXPECT_EQ(render("{% macro tag(name, v='d') %}<{{ name }}={{ v }}>{% endmacro %}"
                   "{{ tag('a') }}{{ tag('b', v='x') }}"),
            "<a=d><b=x>");
  EXPECT_EQ(render("{% for m in messages %}{% for c in m.content %}{{ loop.index }}{% endfor %}"
                   "{{ loop.index }}{% endfor %}",
                   {{"user", "ab"}, {"user", "c"}}),
            "12112");
}

TEST(ChatTemplateVariables, TokensFunctionsAndExtras) {
  EXPECT_EQ(render("{{ bos_token }}{{ messages[0].content }}{{ eos_token }}", {{"user", "hi"}}),
            "<s>hi</s>");
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }}"), "02 Dec 2026");
  EXPECT_EQ(render("{{ enable_thinking is false }} {{ tools | length }}", {},
                   {{"enable_thinking", false}, {"tools", {{{"name", "f"}}}}}),
            "True 1");
}

TEST(ChatTemplateErrors, NameTheOriginLineAndConstruct) {
  EXPECT_EQ(error_of("line one\n{{ x | wordwrap }}"),
            "test.jinja, line 2: unsupported filter 'wordwrap'");
  EXPECT_EQ(error_of("\n\n{% include 'other.jinja' %}"),
            "test.jinja, line 3: unsupported tag '{% include %}'");
  EXPECT_EQ(
      error_of("{% if true %}\nopen"),
      "test.jinja, line 2: the template ended where 'elif' or 'else' or 'endif' was expected");
  EXPECT_EQ(error_of("{{ 'unterminated }}"), "test.jinja, line 1: unterminated string literal");
  EXPECT_EQ(error_of("ok\n{{ 1 +"), "test.jinja, line 2: unclosed tag: '{{' without '}}'");
  EXPECT_EQ(error_of("{{ 1 + }}"), "test.jinja, line 1: expected an expression, found '}}'");
  EXPECT_EQ(error_of("{% endfor %}"), "test.jinja, line 1: '{% endfor %}' without a tag it closes");
  EXPECT_EQ(error_of("{{ x is palindrome }}"), "test.jinja, line 1: unsupported test 'palindrome'");
  EXPECT_EQ(error_of("a\nb\n{{ foo.bar }}"),
            "test.jinja, line 3: 'foo' is undefined (reading .bar)");
  EXPECT_EQ(error_of("{{ 'a' + 1 }}"),
            "test.jinja, line 1: cannot add a string and an integer (use ~ or the string filter)");
  EXPECT_EQ(error_of("{% set x = 1 %}{% set x.y = 2 %}"),
            "test.jinja, line 1: cannot set 'x.y': 'x' is not a namespace()");
  EXPECT_EQ(error_of("{{ 'a'.zfill(3) }}"),
            "test.jinja, line 1: 'a'.zfill is undefined (calling it)");
  EXPECT_EQ(error_of("\n{{ raise_exception('Only user and assistant roles are supported!') }}"),
            "test.jinja, line 2: the template raised an error: Only user and assistant roles are "
            "supported!");
  EXPECT_EQ(error_of("{% for a, b in [1] %}{% endfor %}"),
            "test.jinja, line 1: cannot unpack an integer into 2 loop variables");
  EXPECT_EQ(error_of("{{ range(2000000) | length }}"),
            "test.jinja, line 1: range() of more than 1000000 items");
}

TEST(ChatTemplateErrors, BoundsOnNestingAndWork) {
  EXPECT_EQ(error_of("\n{{ " + std::string(500, '(') + "1" + std::string(500, ')') + " }}"),
            "test.jinja, line 2: nested more than 200 levels deep");
  std::string blocks;
  for (int i = 0; i < 300; ++i) blocks += "{% if true %}";
  EXPECT_EQ(error_of(blocks), "test.jinja, line 1: nested more than 200 levels deep");
  EXPECT_EQ(
      error_of("{% for i in range(1000) %}\n{% for j in range(1001) %}{% endfor %}{% endfor %}"),
      "test.jinja, line 2: more than 1000000 loop iterations in one render");
}

}  // namespace
}  // namespace infini
