% rebase('base', title='API reference')
<h1>{{document['info']['title']}} API reference</h1>
<p>Version {{document['info']['version']}}. The machine-readable document is <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI {{document['openapi']}}); this page is made from it.</p>
<p>Every path also answers <code>OPTIONS</code> (204, with its methods in <code>Allow</code>), and <code>HEAD</code> wherever it answers <code>GET</code>; each operation's section says so.</p>
<nav aria-label="Operations">
  <ul class="operations">
% paths = list(dict.fromkeys(operation['path'] for operation in operations))
% for path in paths:
    <li><code>{{path}}</code>:
%   for operation in [o for o in operations if o['path'] == path]:
      <a href="#{{operation['id']}}"><code>{{operation['method']}}</code></a> {{operation['summary']}}
%   end
    </li>
% end
  </ul>
</nav>
% for operation in operations:
<section class="operation" id="{{operation['id']}}" aria-labelledby="{{operation['id']}}-title">
  <h2 id="{{operation['id']}}-title"><code>{{operation['method']}} {{operation['path']}}</code></h2>
  <p>{{operation['summary']}}{{' Needs a bearer token.' if operation['secured'] else ''}}</p>
%   if operation['also']:
  <ul class="also">
%     for also_id, what in operation['also']:
    <li id="{{also_id}}">{{what}}</li>
%     end
  </ul>
%   end
%   if operation['description']:
  <p>{{operation['description']}}</p>
%   end
%   if operation['parameters']:
  <h3>Parameters</h3>
  <dl class="parameters">
%     for parameter in operation['parameters']:
    <dt><code>{{parameter['name']}}</code> <span class="small">({{parameter['in']}}{{', required' if parameter.get('required') else ''}})</span></dt>
    <dd>{{parameter.get('description', '')}}</dd>
%     end
  </dl>
%   end
%   if operation['bodies']:
  <h3>Body</h3>
  <p>{{', '.join(operation['bodies'])}}</p>
%   end
  <h3>Responses</h3>
  <dl class="responses">
%   for status, description in operation['responses'].items():
    <dt><code>{{status}}</code></dt><dd>{{description}}</dd>
%   end
  </dl>
  <h3>Example</h3>
  <pre><code>{{operation['curl']}}</code></pre>
</section>
% end
